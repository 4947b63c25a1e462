"""Forget old webhook deliveries (and spent rate-limit counters).

    python manage.py prune_webhooks             # deliveries older than 90 days
    python manage.py prune_webhooks --days 30

Deliveries are evidence while a payment may still be disputed; after that they only take room
(the endpoint is unauthenticated, so anyone can make them). Run it daily (README, "Going live").
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from guard import ratelimit
from payments.models import WebhookDelivery

BATCH = 5_000


class Command(BaseCommand):
    help = "Delete webhook deliveries older than --days (default 90) and old rate counters."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=90, help="keep this many days")

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1")
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        while True:  # in batches, so that a large backlog never holds one long transaction
            ids = list(
                WebhookDelivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                    :BATCH
                ]
            )
            if not ids:
                break
            deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
        counters = ratelimit.prune()
        self.stdout.write(
            f"deleted {deleted} webhook deliveries older than {days} days "
            f"and {counters} old rate counters"
        )
