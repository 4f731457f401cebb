"""Alembic environment for fangpin (online mode, engine passed in by fangpin.db.upgrade)."""
from alembic import context
from sqlalchemy import create_engine

from fangpin.registry.models import Base
import fangpin.exchange.models  # noqa: F401  (feed tables share Base.metadata: FEEDS.md §B)
import fangpin.cases.models  # noqa: F401  (case/assistance tables share Base.metadata: POLICY.md §5, §8, §9)
import fangpin.alerts.models  # noqa: F401  (alerts and monitoring runs)
import fangpin.auth.models  # noqa: F401  (web accounts)
import fangpin.jobs.models  # noqa: F401  (background jobs)
import fangpin.programmes.models  # noqa: F401  (public-welfare jobs, project assets, resettlement sites)
import fangpin.security.models  # noqa: F401  (hash-chained audit log)
import fangpin.auth.throttle  # noqa: F401  (login lockout counters)
import fangpin.auth.sessions  # noqa: F401  (server-side login sessions)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("fangpin runs migrations online only")
run_migrations_online()
