"""The one place the action server's services are built: once per process, passed in.

Actions take a `ServiceRegistry` in their constructor (rasa-sdk builds them with none, and they
use `default_registry()`); tests build a registry with the services, or fakes, they want:

    ActionAnswerFaq(ServiceRegistry(knowledge_base=fake_kb, shop_db=ShopDB(url)))

Each service is built on first use with the settings of `shop.settings` and kept; `warm_up()`
loads the models and indexes before the first shopper's message pays for them. The services
share one MiniLM: the product index, the use tags, the description matcher and the
recommendation candidates all encode with the same `embedder`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop.settings import Settings, current

if TYPE_CHECKING:
    from retrieval.description_match import DescriptionMatcher
    from retrieval.embedder import Embedder
    from retrieval.knowledge_base import KnowledgeBase
    from retrieval.product_index import ProductIndex
    from retrieval.product_questions import ProductQuestions
    from retrieval.product_search import ProductSearch
    from retrieval.recommendation_candidates import Recommendations
    from retrieval.recommender import FusedRecommender
    from retrieval.use_match import UseMatcher
    from shop.db import ShopDB
    from shop.failed_attempts import FailedAttempts
    from shop.handoff import HandoffDesk
    from shop.orders import OrderDesk

logger = logging.getLogger(__name__)


class ServiceRegistry:
    """Cheap to build. A service given to the constructor is used as it is; any other is built
    on first use from `settings` and kept for the life of the registry."""

    def __init__(self, settings: Settings | None = None, **services: Any) -> None:
        unknown = set(services) - set(_BUILDERS)
        if unknown:
            raise TypeError(f"unknown services: {', '.join(sorted(unknown))}")
        self.settings = settings or current()
        self._services: dict[str, Any] = dict(services)
        self._given = set(services)
        self._lock = threading.RLock()
        self._recommender_stamp: float | None = None

    def _get(self, name: str) -> Any:
        with self._lock:
            if name not in self._services:
                self._services[name] = _BUILDERS[name](self)
            return self._services[name]

    @property
    def shop_db(self) -> ShopDB:
        return self._get("shop_db")

    @property
    def orders(self) -> OrderDesk:
        return self._get("orders")

    @property
    def handoff_desk(self) -> HandoffDesk:
        return self._get("handoff_desk")

    @property
    def embedder(self) -> Embedder:
        return self._get("embedder")

    @property
    def kb_embedder(self) -> Embedder:
        return self._get("kb_embedder")

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._get("knowledge_base")

    @property
    def product_index(self) -> ProductIndex:
        return self._get("product_index")

    @property
    def product_search(self) -> ProductSearch:
        return self._get("product_search")

    @property
    def use_matcher(self) -> UseMatcher:
        return self._get("use_matcher")

    @property
    def description_matcher(self) -> DescriptionMatcher:
        return self._get("description_matcher")

    @property
    def product_questions(self) -> ProductQuestions:
        return self._get("product_questions")

    @property
    def recommendations(self) -> Recommendations:
        return self._get("recommendations")

    @property
    def recommender(self) -> FusedRecommender:
        """Reloaded when `make train-recommender` writes a new model, so a running action
        server picks it up without a restart."""
        with self._lock:
            if "recommender" in self._given:
                return self._services["recommender"]
            weights = Path(self.settings.recommender_path) / "recommender.safetensors"
            stamp = weights.stat().st_mtime if weights.exists() else None
            if "recommender" not in self._services or stamp != self._recommender_stamp:
                from retrieval.recommender import FusedRecommender

                self._services["recommender"] = FusedRecommender.load(self.settings.recommender_path)
                self._recommender_stamp = stamp
            return self._services["recommender"]

    def warm_up(self) -> None:
        """Loads every model and index now; a part that fails is logged and loaded again (and
        reported to the shopper politely) when an action needs it."""
        steps: list[tuple[str, Callable[[], object]]] = [
            ("knowledge base", lambda: self.knowledge_base.warm_up()),
            ("product index", lambda: self.product_index.warm_up()),
            # Embeds the off-topic requests once per catalog: not on the first unclear message.
            ("off-topic cut", lambda: self.product_index.off_topic_cosine()),
            ("recommender", lambda: self.recommender),
            ("use tags", lambda: self.use_matcher.uses("warm up")),
        ]
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # the action reports it again to the shopper, politely
                logger.error("%s not loaded at start-up: %s", what, exc)


def _shop_db(registry: ServiceRegistry) -> ShopDB:
    from shop.db import ShopDB

    return ShopDB(registry.settings.database_url, registry.settings.currency)


def _orders(registry: ServiceRegistry) -> OrderDesk:
    from shop.orders import OrderDesk

    settings = registry.settings
    return OrderDesk(
        registry.shop_db,
        settings.return_window_days,
        settings.max_failed_verifications,
        settings.failed_verification_window_s,
        settings.max_failed_verifications_per_client,
        _failed_attempts(registry),
        settings.verified_for_s,
    )


def _handoff_desk(registry: ServiceRegistry) -> HandoffDesk:
    from shop.handoff import HandoffDesk

    return HandoffDesk(registry.shop_db, registry.settings)


def _failed_attempts(registry: ServiceRegistry) -> FailedAttempts:
    from shop.failed_attempts import RedisFailedAttempts, ShopDBFailedAttempts

    settings = registry.settings
    if settings.store != "postgres":
        return ShopDBFailedAttempts(registry.shop_db)
    import redis

    client = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    return RedisFailedAttempts(
        client, keep_s=settings.failed_verification_window_s, fallback=ShopDBFailedAttempts(registry.shop_db)
    )


def _embedder(registry: ServiceRegistry) -> Embedder:
    from retrieval.embedder import Embedder

    return Embedder(registry.settings.embedding_model)


def _kb_embedder(registry: ServiceRegistry) -> Embedder:
    from retrieval.kb_encoder import trained_encoder

    # The fine-tuned question encoder when one was trained, else the plain MiniLM (shared).
    return trained_encoder(registry.settings.kb_encoder_path) or registry.embedder


def _knowledge_base(registry: ServiceRegistry) -> KnowledgeBase:
    from retrieval.knowledge_base import KnowledgeBase

    settings = registry.settings
    return KnowledgeBase(
        index_path=settings.kb_path,
        collection=settings.kb_collection,
        embedder=registry.kb_embedder,
        min_confidence=settings.kb_min_confidence,
        suggest_confidence=settings.kb_suggest_confidence,
    )


def _product_index(registry: ServiceRegistry) -> ProductIndex:
    from retrieval.product_index import ProductIndex

    settings = registry.settings
    return ProductIndex(
        index_path=settings.product_index_path, collection=settings.product_collection, embedder=registry.embedder
    )


def _product_search(registry: ServiceRegistry) -> ProductSearch:
    from retrieval.product_search import ProductSearch

    return ProductSearch(registry.product_index)


def _use_matcher(registry: ServiceRegistry) -> UseMatcher:
    from retrieval.use_match import UseMatcher

    return UseMatcher(registry.product_index)


def _description_matcher(registry: ServiceRegistry) -> DescriptionMatcher:
    from retrieval.description_match import DescriptionMatcher

    return DescriptionMatcher(registry.product_index.embedder)


def _product_questions(registry: ServiceRegistry) -> ProductQuestions:
    from retrieval.product_questions import ProductQuestions

    return ProductQuestions(registry.product_index, registry.description_matcher)


def _recommendations(registry: ServiceRegistry) -> Recommendations:
    from retrieval.recommendation_candidates import Recommendations

    return Recommendations(registry.product_search, registry.use_matcher, lambda: registry.recommender)


_BUILDERS: dict[str, Callable[[ServiceRegistry], Any]] = {
    "shop_db": _shop_db,
    "orders": _orders,
    "handoff_desk": _handoff_desk,
    "embedder": _embedder,
    "kb_embedder": _kb_embedder,
    "knowledge_base": _knowledge_base,
    "product_index": _product_index,
    "product_search": _product_search,
    "use_matcher": _use_matcher,
    "description_matcher": _description_matcher,
    "product_questions": _product_questions,
    "recommendations": _recommendations,
    # Built (and reloaded) by the `recommender` property itself; listed so it can be given.
    "recommender": lambda registry: registry.recommender,
}

_default: ServiceRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> ServiceRegistry:
    """The registry of this process (the action server's), built on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ServiceRegistry()
        return _default
