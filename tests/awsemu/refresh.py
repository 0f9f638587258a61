class InstanceRefreshes:
    ACTIONS = ()
    def __init__(self, emulator, s):
        pass
    def tick(self, now):
        pass
