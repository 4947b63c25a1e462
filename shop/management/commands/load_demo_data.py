"""`manage.py load_demo_data`: a small catalogue to try the shop with, and a local admin login.

Safe to run again: products are matched by name and left as they are (stock that orders have
taken is not reset); a missing image is drawn again. The `admin`/`admin` superuser is created
only with DEBUG on, because a password everyone knows must never reach a real server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from shop.models import Product

IMAGE_SIZE = (800, 600)


@dataclass(frozen=True)
class DemoProduct:
    name: str
    description: str
    price: int
    stock: int
    letter: str  # drawn on the image; Latin, because PIL's built-in font has no Hangul
    colours: tuple[str, str]


DEMO_PRODUCTS = [
    DemoProduct(
        "에티오피아 예가체프 원두 200g",
        "꽃향기와 산뜻한 산미가 돋보이는 싱글 오리진 원두입니다.\n"
        "주문 후 로스팅하여 보내 드립니다.",
        18_000,
        30,
        "C",
        ("#6f4e37", "#c8a27a"),
    ),
    DemoProduct(
        "제주 유기농 녹차 티백 (20입)",
        "제주 햇차로 만든 부드러운 녹차입니다. 개별 포장이라 휴대하기 좋습니다.",
        12_500,
        50,
        "T",
        ("#2f6b3a", "#9fd39b"),
    ),
    DemoProduct(
        "수제 딸기잼 300g",
        "국산 딸기와 유기농 설탕만으로 작은 솥에서 졸였습니다.",
        8_900,
        25,
        "J",
        ("#b3223b", "#ff9aa8"),
    ),
    DemoProduct(
        "핸드메이드 도자기 머그",
        "물레로 하나씩 빚어 구운 머그입니다. 350ml, 식기세척기 사용 가능.",
        24_000,
        12,
        "M",
        ("#1f4e79", "#8ec5ff"),
    ),
    DemoProduct(
        "리넨 에코백",
        "가볍고 튼튼한 리넨 100% 에코백입니다. 노트북 수납 가능.",
        15_000,
        40,
        "B",
        ("#7a6a53", "#e6dcc8"),
    ),
    DemoProduct(
        "천연 소이 캔들",
        "라벤더 향의 소이 왁스 캔들입니다. 약 40시간 연소.",
        19_800,
        0,  # sold out: shows how the shop treats a product that cannot be bought
        "S",
        ("#5b4b8a", "#c9b8ff"),
    ),
    DemoProduct(
        "한지 노트 세트",
        "전통 한지로 엮은 노트 3권 세트입니다.",
        4_500,
        100,
        "N",
        ("#a07d3b", "#f4e4bc"),
    ),
    DemoProduct(
        "호두나무 원목 도마",
        "통원목 호두나무를 깎아 오일 마감한 도마입니다. 40 × 25cm.",
        89_000,
        5,
        "W",
        ("#4a2f1d", "#a7774f"),
    ),
]


def draw_placeholder(letter: str, colours: tuple[str, str]) -> bytes:
    """A PNG: a diagonal two-colour gradient, a soft circle and the product's letter."""
    width, height = IMAGE_SIZE
    top = Image.new("RGB", IMAGE_SIZE, colours[0])
    bottom = Image.new("RGB", IMAGE_SIZE, colours[1])
    # A diagonal ramp: rotate the vertical 256px ramp, keep the centre it fully covers.
    rotated = Image.linear_gradient("L").rotate(45, expand=True)
    side, inner = rotated.width, 180
    offset = (side - inner) // 2
    mask = rotated.crop((offset, offset, offset + inner, offset + inner)).resize(IMAGE_SIZE)
    image = Image.composite(bottom, top, mask)

    overlay = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    radius = 170
    centre = (width // 2, height // 2)
    draw.ellipse(
        (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius),
        fill=(255, 255, 255, 70),
        outline=(255, 255, 255, 140),
        width=6,
    )
    try:
        font = ImageFont.load_default(size=200)
    except (TypeError, OSError):  # a Pillow built without FreeType has only the tiny bitmap font
        font = ImageFont.load_default()
    draw.text(centre, letter, font=font, fill=(255, 255, 255, 235), anchor="mm")
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "데모 상품(이미지 포함)을 만들고, DEBUG일 때만 admin/admin 관리자 계정을 만듭니다."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            for demo in DEMO_PRODUCTS:
                self._load_product(demo)
        self._ensure_admin()

    def _load_product(self, demo: DemoProduct) -> None:
        product, created = Product.objects.get_or_create(
            name=demo.name,
            defaults={
                "description": demo.description,
                "price": demo.price,
                "stock": demo.stock,
                "is_active": True,
            },
        )
        drew = False
        if not product.image.name or not product.image.storage.exists(product.image.name):
            product.image.save(
                f"demo-{DEMO_PRODUCTS.index(demo) + 1}.png",
                ContentFile(draw_placeholder(demo.letter, demo.colours)),
                save=True,
            )
            drew = True
        what = "만듦" if created else "이미 있음"
        extra = " (이미지 생성)" if drew and not created else ""
        stock = "품절" if product.stock == 0 else f"재고 {product.stock}"
        self.stdout.write(f"상품 {what}{extra}: {product.name} — {product.price:,}원, {stock}")

    def _ensure_admin(self) -> None:
        if not settings.DEBUG:
            self.stderr.write(
                "관리자 계정을 만들지 않았습니다: DJANGO_DEBUG가 꺼져 있습니다. 누구나 아는 "
                "admin/admin 비밀번호는 운영 서버에 두면 안 됩니다. "
                "`python manage.py createsuperuser`로 만들어 주세요."
            )
            return
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            self.stdout.write(
                "관리자 계정 이미 있음: admin (비밀번호는 바꾸지 않았습니다) — /admin/"
            )
            return
        user_model.objects.create_superuser(
            # A well-known password on purpose, and only under DEBUG (checked above).
            username="admin",
            email="admin@localhost",
            password="admin",  # noqa: S106
        )
        self.stdout.write(self.style.WARNING("관리자 계정 만듦: admin / admin — /admin/ (개발용)"))
