"""Who is calling, as far as the throttle needs to know: a keyed hash of the caller's address.

The channels put it in each message's metadata under `CLIENT_METADATA_KEY`, replacing any value
a caller sent there, and the order actions count failed look-ups against it as well as against
the sender id, which the caller chooses. Hashed with the shop's action secret so the tracker
store and Redis never hold an address, and an address can't be recovered by hashing them all.
Stdlib only: the Rasa env imports it.
"""

from __future__ import annotations

import hashlib
import hmac

CLIENT_METADATA_KEY = "shop_client"


def client_key(address: str, secret: str | None) -> str:
    return hmac.new((secret or "shop-assistant").encode(), address.encode(), hashlib.sha256).hexdigest()[:24]
