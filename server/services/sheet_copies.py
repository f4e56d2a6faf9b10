"""Sheet digests, the server's side: the copies of the sheets the server wrote (output
sheets, kb_data's, kb_adjustments') that stand in for the sheets a client sends by digest,
and the digests stamped into kb_meta after each answer (server/xlwire/digest.py,
docs/protocol.md "Sheet digests").

A copy is a sheet as an answer left it in a workbook, found by the SHA-256 of its content: a
client can only name a copy whose content it holds, and the copy stands for exactly that
content. An input table read from a copy (kb_data, kb_adjustments) is checked against the
records as if its values had been sent; the answer carries only what its caller may see.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.models import SheetCopy as SheetCopyRow
from server.scoring.messages import msg, seq
from server.services.errors import BadRequest, NeedValues
from server.services.workbook import parse_book
from server.xlwire import digest as wire_digest
from server.xlwire.protocol import DamagedCopy
from server.xlwire.snapshot import BookSnapshot


def requested(header: str | None) -> dict[str, str] | None:
    """The request's sheet digests (name -> digest); None when the client sends none."""
    try:
        return wire_digest.parse_digests_header(header)
    except wire_digest.DigestHeaderError as exc:
        raise BadRequest(exc.message) from None


def read_book(session: Session, body: bytearray, digests: Mapping[str, str] | None,
              lang: str) -> BookSnapshot:
    """The request's workbook, each sheet it sent by digest put back from the server's copy.

    NeedValues (409) names the sheets the server holds no copy of, before the body is
    parsed, so it costs little. When a copy is damaged (it does not decompress or decode),
    the request's copies are forgotten and all its digested sheets asked for the same way, in
    one round trip: the client sends their values and the answer stores good copies.
    Answering 400 instead left the client no way on: it sent the same digests on every
    press."""
    copies = copies_for(session, digests, lang) if digests else {}
    try:
        return parse_book(body, copies)
    except DamagedCopy:
        raise _forget(session, digests, lang) from None  # type: ignore[arg-type]


def copies_for(session: Session, digests: Mapping[str, str], lang: str
               ) -> dict[str, bytearray]:
    """Sheet name -> its stored copy (JSON, a bytearray the parser empties once decoded) for
    every digest of the request; NeedValues (409) naming the sheets the server holds no
    copy of (all of them when a copy does not decompress, see `read_book`)."""
    if not digests:
        return {}
    rows = dict(session.execute(select(SheetCopyRow.digest, SheetCopyRow.body).where(
        SheetCopyRow.digest.in_(set(digests.values())))).all())
    missing = [name for name, d in digests.items() if d not in rows]
    if missing:
        raise _need_values(missing, lang)
    try:
        return {name: bytearray(zlib.decompress(rows[d])) for name, d in digests.items()}
    except zlib.error:
        raise _forget(session, digests, lang) from None


def _need_values(names: list[str], lang: str) -> NeedValues:
    return NeedValues(msg("digest.need_values", lang, names=seq(names)),
                      names, wire_digest.NEED_VALUES_HEADER, wire_digest.format_names(names))


def _forget(session: Session, digests: Mapping[str, str], lang: str) -> NeedValues:
    """Drop the copies a request named (one was damaged) and ask for those sheets' values:
    the answer to them stores good copies under the same digests."""
    session.execute(delete(SheetCopyRow).where(SheetCopyRow.digest.in_(set(digests.values()))))
    session.commit()
    return _need_values(list(digests), lang)


def remember(session: Session, book: BookSnapshot, actions: list[dict],
             received: Mapping[str, str], period_code: str, keep: int) -> dict[str, str]:
    """Follow the digested sheets of `book` through `actions`, store each new state as a copy
    and return sheet name -> digest as the client will hold them (for kb_meta). Commits."""
    if keep <= 0:
        return {}
    after = wire_digest.AfterAnswer(book, received)
    out: dict[str, str] = {}
    new: list[tuple[str, bytes]] = []
    for copy in after.apply(actions):
        if copy.changed or copy.digest is None:
            copy.compute_digest()
            new.append((copy.digest, copy.to_bytes()))  # type: ignore[arg-type]
        out[copy.name] = copy.digest  # type: ignore[assignment]
    if new:
        known = set(session.scalars(select(SheetCopyRow.digest).where(
            SheetCopyRow.digest.in_([d for d, _ in new]))))
        for d, body in new:
            if d not in known:
                known.add(d)
                session.add(SheetCopyRow(digest=d, period_code=period_code[:20],
                                         body=zlib.compress(body, 1), size=len(body)))
        _prune(session, keep)
    try:
        session.commit()
    except IntegrityError:  # another request stored the same sheet meanwhile: it is there
        session.rollback()
    return out


def _prune(session: Session, keep: int) -> None:
    session.flush()
    cutoff = session.scalar(select(SheetCopyRow.id).order_by(SheetCopyRow.id.desc())
                            .offset(keep).limit(1))
    if cutoff is not None:
        session.execute(delete(SheetCopyRow).where(SheetCopyRow.id <= cutoff))
