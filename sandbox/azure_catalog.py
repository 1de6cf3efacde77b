"""Fixed Azure DevOps metadata: known fields, read-only fields, identities, error bodies."""

from __future__ import annotations

import uuid
from typing import Any

IDENTITY_FIELDS = {
    "System.AssignedTo",
    "System.CreatedBy",
    "System.ChangedBy",
    "System.AuthorizedAs",
    "Microsoft.VSTS.Common.ActivatedBy",
    "Microsoft.VSTS.Common.ClosedBy",
}

# written by the service itself; a patch may test them but not set them
READ_ONLY_FIELDS = {
    "System.Id",
    "System.Rev",
    "System.ChangedDate",
    "System.ChangedBy",
    "System.CreatedBy",
    "System.AuthorizedDate",
    "System.RevisedDate",
    "System.Watermark",
    "System.TeamProject",
    "System.WorkItemType",
    "System.CommentCount",
    "System.AuthorizedAs",
    "Microsoft.VSTS.Common.StateChangeDate",
}

KNOWN_FIELDS = (
    READ_ONLY_FIELDS
    | IDENTITY_FIELDS
    | {
        "System.Title",
        "System.Description",
        "System.State",
        "System.Reason",
        "System.Tags",
        "System.AreaPath",
        "System.IterationPath",
        "System.History",
        "System.CreatedDate",
        "System.BoardColumn",
        "Microsoft.VSTS.Scheduling.StoryPoints",
        "Microsoft.VSTS.Scheduling.Effort",
        "Microsoft.VSTS.Scheduling.StartDate",
        "Microsoft.VSTS.Scheduling.TargetDate",
        "Microsoft.VSTS.Scheduling.DueDate",
        "Microsoft.VSTS.Scheduling.OriginalEstimate",
        "Microsoft.VSTS.Scheduling.RemainingWork",
        "Microsoft.VSTS.Common.Priority",
        "Microsoft.VSTS.Common.Severity",
        "Microsoft.VSTS.Common.ValueArea",
        "Microsoft.VSTS.Common.BusinessValue",
        "Microsoft.VSTS.Common.AcceptanceCriteria",
        "Microsoft.VSTS.Common.Risk",
    }
)

# Microsoft.VSTS.Common.Priority's allowed values in the stock processes: "Valid values are
# 1, 2, 3, 4" (the service's own refusal, MicrosoftDocs/azure-devops-docs#6941)
PRIORITY = "Microsoft.VSTS.Common.Priority"
PRIORITY_VALUES = (1, 2, 3, 4)

NUMBER_FIELDS = {
    "Microsoft.VSTS.Scheduling.StoryPoints",
    "Microsoft.VSTS.Scheduling.Effort",
    "Microsoft.VSTS.Scheduling.OriginalEstimate",
    "Microsoft.VSTS.Scheduling.RemainingWork",
    "Microsoft.VSTS.Common.Priority",
    "Microsoft.VSTS.Common.BusinessValue",
}

DATE_FIELDS = {
    "Microsoft.VSTS.Scheduling.StartDate",
    "Microsoft.VSTS.Scheduling.TargetDate",
    "Microsoft.VSTS.Scheduling.DueDate",
    "System.CreatedDate",
}

PARENT = "System.LinkTypes.Hierarchy-Reverse"
CHILD = "System.LinkTypes.Hierarchy-Forward"
LINK_NAMES = {
    PARENT: "Parent",
    CHILD: "Child",
    "System.LinkTypes.Related": "Related",
    "System.LinkTypes.Dependency-Forward": "Successor",
    "System.LinkTypes.Dependency-Reverse": "Predecessor",
}
RECIPROCAL = {
    PARENT: CHILD,
    CHILD: PARENT,
    "System.LinkTypes.Related": "System.LinkTypes.Related",
    "System.LinkTypes.Dependency-Forward": "System.LinkTypes.Dependency-Reverse",
    "System.LinkTypes.Dependency-Reverse": "System.LinkTypes.Dependency-Forward",
}

NAMESPACE = uuid.UUID("6f1c7c1e-2d55-4a1b-9a57-2f5b3c4d5e6f")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


class AzureError(Exception):
    """An Azure DevOps error: HTTP status plus the WrappedException body fields."""

    def __init__(
        self,
        status: int,
        message: str,
        type_key: str,
        type_name: str | None = None,
        event_id: int = 3000,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type_key = type_key
        self.type_name = type_name or (
            f"Microsoft.TeamFoundation.WorkItemTracking.Server.{type_key}, "
            "Microsoft.TeamFoundation.WorkItemTracking.Server"
        )
        self.event_id = event_id

    def body(self) -> dict[str, Any]:
        return {
            "$id": "1",
            "innerException": None,
            "message": self.message,
            "typeName": self.type_name,
            "typeKey": self.type_key,
            "errorCode": 0,
            "eventId": self.event_id,
        }


def not_found(item_id: int | str) -> AzureError:
    return AzureError(
        404,
        f"TF401232: Work item {item_id} does not exist, or you do not have permissions to read it.",
        "WorkItemUnauthorizedAccessException",
        event_id=3200,
    )
