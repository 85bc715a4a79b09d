"""Dispute reasons (RULES.md, "Reasons and what they can win"): the keys case.toml accepts."""
from __future__ import annotations

REASONS: dict[str, str] = {
    "not_received": "Item not received",
    "damaged": "Item arrived damaged",
    "defective": "Item is defective or does not work",
    "not_as_described": "Item not as described",
    "wrong_item": "Wrong item received",
    "wrong_size": "Wrong size",
    "wrong_colour": "Wrong colour",
    "incomplete": "Order incomplete (parts or items missing)",
    "counterfeit": "Counterfeit instead of original",
    "expired": "Expired product",
    "late_delivery": "Delivery seriously late",
    "invalid_tracking": "Tracking number invalid or fake",
    "delivered_elsewhere": "Marked delivered but not received (delivered elsewhere)",
    "returned_to_seller": "Parcel returned to seller",
    "customs": "Package held at customs",
}

RESOLUTIONS: dict[str, str] = {
    "refund_only": "Refund only",
    "return_and_refund": "Return and refund",
}
