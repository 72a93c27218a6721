"""Sign-in and identity response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenResponse(BaseModel):
    """An OAuth2 bearer access token (send it as `Authorization: Bearer <token>`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"access_token": "<jwt>", "token_type": "bearer", "expires_in": 3600}]}
    )

    access_token: str = Field(description="The JWT; send it as `Authorization: Bearer <token>`.")
    token_type: str = Field(default="bearer")
    expires_in: int = Field(description="Seconds until the token expires.")


class OrganizationOut(BaseModel):
    """The caller's organisation."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 1, "slug": "acme", "name": "Acme Inc."}]})

    id: int
    slug: str
    name: str


class MeResponse(BaseModel):
    """Who the token belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "user:7",
                    "user_id": 7,
                    "email": "pm@acme.example",
                    "full_name": "Pat Manager",
                    "role": "member",
                    "organization": {"id": 1, "slug": "acme", "name": "Acme Inc."},
                }
            ]
        }
    )

    subject: str = Field(description="The token's `sub` claim.")
    user_id: int | None = Field(description="The local user, or null for an identity provider's subject.")
    email: str | None
    full_name: str | None
    role: str
    organization: OrganizationOut
