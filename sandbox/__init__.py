"""A local stand-in for Iamport (PortOne V1) and PortOne V2, for development and tests without
credentials.

It answers the REST APIs at `/sandbox/iamport/...` (Iamport's paths and envelope) and
`/sandbox/portone/...` (V2's), serves browser SDKs (`/sandbox/iamport/v1/iamport.js`,
`/sandbox/portone/v2/browser-sdk.js`) whose one payment window approves or declines on a
click, sends webhooks like Iamport and PortOne V2 do (V2's signed), and offers a small
merchant console at `/sandbox/console/`. The shop reaches it only over HTTP, exactly as it
reaches Iamport, and nothing here imports the shop. It serves nothing unless
`settings.SANDBOX_ENABLED` is true.
"""
