"""The OData v4 feed of a form, as ODK Central serves it: model and ``$metadata`` (``model``), rows
from stored values (``rows``), query options (``options``) and ``$filter`` parsing (``filter``)."""
