"""Settings of the workbench's accounts and sessions (environment variables TRACKFLOW_WORKBENCH_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkbenchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKFLOW_WORKBENCH_", extra="ignore")

    session_idle_s: float = Field(8 * 3600, gt=0, description="a session unused this long ends (401, reason expired)")
    session_absolute_s: float = Field(7 * 86400, gt=0, description="a session ends this long after sign-in, used or not")
    cookie_secure: bool = Field(False, description="mark the session cookie Secure (set it when served over HTTPS)")
    login_max_failures: int = Field(5, ge=1, description="failed sign-ins of one user name within the window before 429")
    login_window_s: float = Field(300, gt=0, description="the throttling window of failed sign-ins")
    web_dist: Path = Field(Path(""), description="the built web app; empty: web/dist of the repository")
