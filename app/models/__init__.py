"""Typed SQLAlchemy 2 models, one module per aggregate. Importing this package registers them all."""

from app.models.audit import AuditEvent
from app.models.blob import Blob
from app.models.entity import Dataset, Entity, EntityBacklog, EntityVersion
from app.models.form import Form, FormAttachment, FormVersion
from app.models.hub import Hub, HubLink
from app.models.indicators import (
    CanonicalPerson,
    CanonicalRecord,
    IndicatorFact,
    IndicatorMapping,
    IndicatorRefreshMark,
    UnmappedValue,
)
from app.models.job import ExportRun, Job, Webhook, WebhookDelivery
from app.models.org import Organisation, Project, ProjectKey, ProjectPartner
from app.models.response import ActivityReport, ActivityUpload, FlowFact, FlowFactTransport, PlanFigure
from app.models.review import Comment, ReviewEvent
from app.models.submission import PurgedInstance, Submission, SubmissionAttachment, SubmissionVersion
from app.models.user import (
    ApiSession,
    AppUser,
    AppUserForm,
    LoginFailure,
    PasswordReset,
    ProjectRole,
    RecoveryCode,
    User,
)

__all__ = [
    "ActivityReport",
    "ActivityUpload",
    "ApiSession",
    "AppUser",
    "AppUserForm",
    "AuditEvent",
    "Blob",
    "CanonicalPerson",
    "CanonicalRecord",
    "Comment",
    "Dataset",
    "Entity",
    "EntityBacklog",
    "EntityVersion",
    "ExportRun",
    "FlowFact",
    "FlowFactTransport",
    "Form",
    "FormAttachment",
    "FormVersion",
    "Hub",
    "HubLink",
    "IndicatorFact",
    "IndicatorMapping",
    "IndicatorRefreshMark",
    "Job",
    "LoginFailure",
    "Organisation",
    "PasswordReset",
    "PlanFigure",
    "Project",
    "ProjectKey",
    "ProjectPartner",
    "ProjectRole",
    "PurgedInstance",
    "RecoveryCode",
    "ReviewEvent",
    "Submission",
    "SubmissionAttachment",
    "SubmissionVersion",
    "UnmappedValue",
    "User",
    "Webhook",
    "WebhookDelivery",
]
