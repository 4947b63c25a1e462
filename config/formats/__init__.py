"""Date formats of the shop's own, over Django's for each language (FORMAT_MODULE_PATH).

Staff compare times across the admin's lists, record pages and the refund form, so every
datetime Django renders reads the same, in the shop's time zone (Asia/Seoul): "2026-12-02
15:04", in Korean and in English alike. The storefront writes its own formats in its templates
and is not changed by these.
"""

# One format for the whole admin; shop.admin.local_datetime formats with it too.
DATETIME_FORMAT = "Y-m-d H:i"
