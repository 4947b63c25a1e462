"""A local stand-in for Iamport (PortOne V1), for development and tests without credentials.

It answers the REST API at `/sandbox/iamport/...` with Iamport's paths and envelope, serves a
browser SDK (`/sandbox/iamport/v1/iamport.js`) whose payment window approves or declines on a
click, sends webhooks like Iamport does, and offers a small merchant console at
`/sandbox/console/`. The shop reaches it only over HTTP, exactly as it reaches Iamport, and
nothing here imports the shop. It serves nothing unless `settings.SANDBOX_ENABLED` is true.
"""
