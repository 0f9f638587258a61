class ImageBuilder:
    def __init__(self, emulator, bake_seconds):
        pass
    def tick(self, now):
        pass
