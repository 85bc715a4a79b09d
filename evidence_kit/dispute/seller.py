"""The seller's reply (``dispute.seller_reply``, the buyer's summary or a quote) read as facts: no answer at all,
requests to confirm receipt or to cancel, promises (to resend, refund, extend protection) and claims ("it is
original"). English and Russian; the texts report what is found, in English, whatever language the reply is in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .notes import clean

# "No answer yet", "No reply so far", "They ignored me", "нет ответа", "продавец молчит": nothing to report.
_NO_ANSWER = re.compile(
    r"^\W*(?:(?:still\s+)?no\s+(?:answer|reply|replies|response)(?:\s+(?:yet|so\s+far|at\s+all))?(?:\s+from\s+"
    r"(?:the\s+)?(?:seller|them|store))?|(?:they|the\s+seller|seller|he|she)\s+(?:(?:has|have)\s+not|"
    r"did\s+not|didn't|hasn't|haven't|never)\s+(?:yet\s+)?(?:answered|replied|responded|answer|reply|respond)"
    r"(?:\s+(?:yet|so\s+far|at\s+all))?|(?:they|the\s+seller|seller)\s+ignored\s+(?:me|my\s+messages?)|"
    r"not\s+answered(?:\s+yet)?|nothing(?:\s+(?:yet|so\s+far))?|none|"
    r"(?:пока\s+)?(?:нет|никакого)\s+ответа|(?:продавец\s+)?(?:не\s+ответил\w*|не\s+отвеча\w*|молчит))\W*$",
    re.IGNORECASE)
_CONFIRM = re.compile(r"confirm\w*\s+(?:the\s+|my\s+)?(?:receipt|delivery|(?:that\s+)?(?:i|you)\s+(?:have\s+)?"
                      r"received)|подтверд\w*\s+(?:\w+\s+)?(?:получени|доставк)", re.IGNORECASE)
_CANCEL_DISPUTE = re.compile(r"\b(?:cancel|close|withdraw|remove|drop)\w*\s+(?:the\s+|my\s+|your\s+|this\s+)?"
                             r"(?:dispute|claim|complaint)|(?:отмен|закр|сня|отозв)\w*\s+(?:\w+\s+)?"
                             r"(?:спор|диспут|претензи)", re.IGNORECASE)
_CANCEL_ORDER = re.compile(r"\bcancel\w*\s+(?:the\s+|my\s+|your\s+|this\s+)?order|отмен\w*\s+(?:\w+\s+)?заказ",
                           re.IGNORECASE)
_PROMISES = {
    "resend": re.compile(r"\b(?:re-?send|re-?ship)\w*|\bsend\w*\s+(?:\w+\s+){0,3}(?:again|a\s+new\s+one|another)|"
                         r"переотправ\w*|(?:отправ|вышл|пошл)\w*\s+(?:\w+\s+)?(?:ещё\s+раз|еще\s+раз|заново|"
                         r"повторно|новый|новую)", re.IGNORECASE),
    "refund": re.compile(r"\b(?:will|would|shall|going\s+to|promised?\s+to|promised)\s+(?:\w+\s+){0,2}refund|"
                         r"\brefund\s+(?:you\s+|me\s+)?(?:soon|later|after|tomorrow|next)|"
                         r"верн\w*\s+(?:\w+\s+)?(?:деньги|средства|оплату)", re.IGNORECASE),
    "extension": re.compile(r"\b(?:will|would|shall|going\s+to|promised?\s+to|promised)\s+(?:\w+\s+){0,2}extend|"
                            r"продл\w*", re.IGNORECASE),
}
_ORIGINAL = re.compile(r"(?<!not\s)(?<!not\s100%\s)\b(?:100\s*%\s*)?(?:original|genuine|authentic)\b|"
                       r"(?<!не\s)оригинал\w*", re.IGNORECASE)
_NOT_ORIGINAL = re.compile(r"\bnot\s+(?:an?\s+|the\s+)?(?:100\s*%\s*)?(?:original|genuine|authentic)|"
                           r"\bне\s+оригинал", re.IGNORECASE)


@dataclass(frozen=True)
class SellerWords:
    """What the seller's reply says, as facts."""

    no_answer: bool = False
    asks_to_confirm: bool = False
    asks_to_cancel_dispute: bool = False
    asks_to_cancel_order: bool = False
    promises: tuple[str, ...] = ()  # "resend", "refund", "extension"
    claims: tuple[str, ...] = ()  # "original"

    @property
    def anything(self) -> bool:
        return bool(self.asks_to_confirm or self.asks_to_cancel_dispute or self.asks_to_cancel_order
                    or self.promises or self.claims)


def read_reply(reply: str) -> SellerWords:
    text = " ".join(clean(reply).split())
    if not text:
        return SellerWords()
    if _NO_ANSWER.match(text):
        return SellerWords(no_answer=True)
    claims = ("original",) if _ORIGINAL.search(text) and not _NOT_ORIGINAL.search(text) else ()
    return SellerWords(asks_to_confirm=bool(_CONFIRM.search(text)),
                       asks_to_cancel_dispute=bool(_CANCEL_DISPUTE.search(text)),
                       asks_to_cancel_order=bool(_CANCEL_ORDER.search(text)),
                       promises=tuple(name for name, pattern in _PROMISES.items() if pattern.search(text)),
                       claims=claims)
