"""The error body of every route (RFC 9457 problem details) and the health answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str
    store: str
    snapshots_rejected: int = Field(
        default=0,
        description="Snapshots refused on load since start (replayed instead): see verify",
    )


class FieldError(BaseModel):
    """One malformed input of a 422: the field it names and what is wrong with it."""

    field: str
    detail: str


class ErrorBody(BaseModel):
    """Every error response: RFC 9457 problem details (`application/problem+json`), with a
    stable `error` id to switch on, `field` for malformed input, and the request's id."""

    model_config = ConfigDict(
        title="Problem",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:continuum:problem:invalid_request",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "duration_minutes: Input should be a valid integer",
                    "error": "invalid_request",
                    "field": "duration_minutes",
                    "errors": [
                        {
                            "field": "duration_minutes",
                            "detail": "Input should be a valid integer",
                        }
                    ],
                    "request_id": "6f0c2d4e9a8b4c1d8e7f6a5b4c3d2e1f",
                }
            ]
        },
    )

    type: str = Field(description="`urn:continuum:problem:<error>`, one per kind of problem")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for people (may quote the input)")
    error: str = Field(description="A stable id: a rule id, or e.g. invalid_request")
    field: str | None = Field(None, description="The malformed field (422)")
    errors: list[FieldError] | None = Field(None, description="Every malformed field (422)")
    current_version: int | None = Field(None, description="The stream's version (409, 412)")
    min_position: int | None = Field(None, description="The position asked for (503)")
    position: int | None = Field(None, description="The position the views reached (503)")
    valid: list[str] | None = Field(None, description="The accepted values (422)")
    request_id: str | None = Field(description="The request's id, as in X-Request-ID")
