"""tau's configuration: settings and their layers (``settings``), the user's named
profiles (``profiles``) and the private key file (``credentials``).

Everything a front end needs from settings is re-exported here, so
``from tau_engine.config import Settings`` keeps working.
"""

from tau_engine.config.settings import (
    ENV_SETTINGS,
    ProviderSettings,
    Settings,
    Withheld,
    describe_settings,
    env_overrides,
    load_settings,
    save_setting,
    withhold_untrusted,
)
from tau_engine.config.toml_file import read_toml

__all__ = [
    "ENV_SETTINGS",
    "ProviderSettings",
    "Settings",
    "Withheld",
    "describe_settings",
    "env_overrides",
    "load_settings",
    "read_toml",
    "save_setting",
    "withhold_untrusted",
]
