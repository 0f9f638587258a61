"""EC2 client tokens, which moto ignores.

Kiln creates launch-template versions with a ClientToken so that a retry
after a crash or a lost answer does not create a second version. AWS
answers a repeated token with the first result, and a token reused with
different parameters with IdempotentParameterMismatch; so does the
emulator, for every EC2 action whose contract has a ClientToken.
"""

import hashlib
import json

from .errors import ApiError


class ClientTokens:
    def __init__(self):
        self._seen = {}  # (account, region, action, token) → (fingerprint, answer)

    @staticmethod
    def token_of(req):
        if req.service != "ec2" or req.op is None or req.op.input_shape is None:
            return None
        if "ClientToken" not in req.op.input_shape.members:
            return None
        return req.params.get("ClientToken")

    def _key(self, req, token):
        return (req.account_id, req.region, req.action, token)

    def replay(self, req):
        """The first answer to this token, or None if it is new. Raises on a
        token reused with other parameters."""
        token = self.token_of(req)
        if token is None:
            return None
        seen = self._seen.get(self._key(req, token))
        if seen is None:
            return None
        if seen[0] != _fingerprint(req):
            raise ApiError("IdempotentParameterMismatch",
                           f"Client token {token} was already used with different "
                           "parameters.")
        return seen[1]

    def remember(self, req, answer):
        token = self.token_of(req)
        if token is not None and answer[0] == 200:
            self._seen[self._key(req, token)] = (_fingerprint(req), answer)


def _fingerprint(req):
    params = {k: v for k, v in req.params.items() if k != "ClientToken"}
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
