"""Logging that never carries secrets.

urllib3 logs every request line, query string included (a presigned URL's signature, a webhook's
secret path), at DEBUG. Our own messages only ever name redacted URLs, so the one thing to do is
keep urllib3's request lines out, whatever level the host or the user asks for.
"""

import logging

SECRET_BEARING_LOGGERS = ("urllib3",)


def keep_secrets_out_of_logs() -> None:
    for name in SECRET_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
