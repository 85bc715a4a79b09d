"""Dispute reasons: the one list case.toml validates against, with what each can win and the evidence it needs.

Facts come from ../shared/RULES.md ("Reasons and what they can win", "Evidence each reason needs");
each entry names its source article. ``evidence_kit.checklist`` compares a case with ``needs``.
"""
from __future__ import annotations

from dataclasses import dataclass

RESOLUTIONS: dict[str, str] = {
    "refund_only": "Refund only",
    "return_and_refund": "Return and refund",
}

# Evidence kinds a reason can need. The checklist knows how to find each one in a case or a package.
PHOTOS, VIDEO, TRACKING, CHAT, RECEIPT = "photos", "video", "tracking", "chat", "receipt"


@dataclass(frozen=True)
class Need:
    """One piece of evidence a reason needs, and the words for the gap when it is missing."""

    kind: str  # PHOTOS, VIDEO, TRACKING, CHAT or RECEIPT
    missing: str  # completes "<reason title>: ..." when the case lacks it
    required: bool = True  # False: recommended by the articles, not asked for by the form


@dataclass(frozen=True)
class Reason:
    key: str
    title: str
    wins: str  # what the articles say it can win
    parcel_arrived: bool  # False: the buyer never got the parcel, so "refund only" is the default
    needs: tuple[Need, ...]
    caveat: str = ""  # when the platform usually sides with the seller
    source: str = ""  # seed articles, by number

    @property
    def default_resolution(self) -> str | None:
        """Refund only when the parcel never came (002); otherwise the buyer must choose."""
        return None if self.parcel_arrived else "refund_only"


_DEFECT_PHOTOS = Need(PHOTOS, "no photos where the problem is clearly visible")
_UNBOXING = Need(VIDEO, "no unboxing video (ideally filmed from the unopened parcel)")
_CHAT_ALWAYS = Need(CHAT, "no screenshots of your conversation with the seller", required=False)
_RECEIPT = Need(RECEIPT, "no receipt or invoice for the order", required=False)
_ARRIVED = (_DEFECT_PHOTOS, _UNBOXING, _CHAT_ALWAYS, _RECEIPT)
_UNSTATED = "a full or partial refund, depending on how serious the problem is"

_REASONS = (
    Reason("not_received", "Item not received", "a full refund once more than two months have passed since "
           "shipment and the parcel has still not been delivered", False,
           (Need(TRACKING, "no tracking screenshot showing the parcel never reached your city"),
            Need(CHAT, "no screenshot of the chat asking the seller to extend buyer protection"), _RECEIPT),
           source="000, 002"),
    Reason("damaged", "Item arrived damaged", "a full refund for serious damage found on arrival, a partial "
           "refund for minor damage", True, _ARRIVED, source="000, 001, 003"),
    Reason("defective", "Item is defective or does not work", "a full refund for serious defects (or a "
           "significant hidden defect found within 15 days of delivery), a partial refund for minor ones", True,
           _ARRIVED, source="000, 003"),
    Reason("not_as_described", "Item not as described", _UNSTATED, True,
           (_DEFECT_PHOTOS, _UNBOXING, Need(CHAT, "no screenshots of your conversation with the seller or of "
                                                 "the item description", required=False), _RECEIPT),
           source="001, 003, 004"),
    Reason("wrong_item", "Wrong item received", "a full refund", True, _ARRIVED, source="000"),
    Reason("wrong_size", "Wrong size", "a full refund", True,
           (Need(PHOTOS, "no photos showing the size you received (for example next to a tape measure)"),
            _UNBOXING, _CHAT_ALWAYS, _RECEIPT), source="000, 001"),
    Reason("wrong_colour", "Wrong colour", "a partial refund", True,
           (Need(PHOTOS, "no photos showing the colour you received"), _UNBOXING, _CHAT_ALWAYS, _RECEIPT),
           source="000, 001"),
    Reason("incomplete", "Order incomplete (parts or items missing)", _UNSTATED, True,
           (Need(PHOTOS, "no photos of everything that was in the parcel"), _UNBOXING, _CHAT_ALWAYS, _RECEIPT),
           source="001, 003"),
    Reason("counterfeit", "Counterfeit instead of original", "a full refund", True, _ARRIVED, source="000"),
    Reason("expired", "Expired product", _UNSTATED, True,
           (Need(PHOTOS, "no photos where the expiry date is clearly readable"), _UNBOXING, _CHAT_ALWAYS,
            _RECEIPT), source="001"),
    Reason("late_delivery", "Delivery seriously late", "a partial refund", True,
           (Need(TRACKING, "no tracking screenshot showing when the parcel was delivered"), _CHAT_ALWAYS,
            _RECEIPT), caveat="a late delivery is not always decided in the buyer's favour (002)",
           source="000, 002"),
    Reason("invalid_tracking", "Tracking number invalid or fake", _UNSTATED, False,
           (Need(TRACKING, "no screenshot of an international tracking site (Postal Ninja, Parcelsapp, "
                           "17TRACK) showing the tracking number is invalid"), _CHAT_ALWAYS, _RECEIPT),
           source="002"),
    Reason("delivered_elsewhere", "Marked delivered but not received (delivered elsewhere)", _UNSTATED, False,
           (Need(TRACKING, "no tracking screenshot showing the city or country where the parcel was "
                           "delivered (add the distance from your city, for example from a map)"),
            _CHAT_ALWAYS, _RECEIPT),
           caveat="if the wrong address was your mistake, the money usually cannot be recovered (001)",
           source="001, 002"),
    Reason("returned_to_seller", "Parcel returned to seller", _UNSTATED, False,
           (Need(TRACKING, "no tracking screenshots showing the parcel went back to the seller"), _CHAT_ALWAYS,
            _RECEIPT),
           caveat="if the parcel went back because it was not collected, the platform usually sides with "
                  "the seller (001)", source="001, 002"),
    Reason("customs", "Package held at customs", _UNSTATED, False,
           (Need(CHAT, "no screenshot of the conversation or the item description where the seller promised "
                       "to cover customs fees"), _RECEIPT),
           caveat="if you refuse to pay duties the seller never promised to cover, the platform usually "
                  "sides with the seller (001, 002)", source="001, 002"),
)

REASON_RULES: dict[str, Reason] = {r.key: r for r in _REASONS}
# The keys case.toml accepts, with their titles (derived: the list above is the one source).
REASONS: dict[str, str] = {r.key: r.title for r in _REASONS}
