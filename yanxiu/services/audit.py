"""The audit log (审计日志): one hash-chained row per act."""
import hashlib
import json

from yanxiu.db import database, transaction_lock
from yanxiu.models import AuditLog
from yanxiu.models.base import now

# Any constant works; it only has to be the same for every PostgreSQL writer.
_PG_CHAIN_LOCK = 7_301_106


def _digest(row: dict, prev_hash: str) -> str:
    payload = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def _chained_fields(entry: AuditLog) -> dict:
    return {
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor_id, "binding": entry.binding_id,
        "action": entry.action, "target_type": entry.target_type,
        "target_id": entry.target_id, "scope_path": entry.scope_path,
        "before": entry.before, "after": entry.after,
        "address": entry.address, "result": entry.result,
    }


def record(action: str, *, actor=None, binding=None, target_type: str = "",
           target_id="", scope_path: str = "", before=None, after=None,
           address: str = "", result: str = "ok") -> AuditLog:
    """Append one audit row, linked by hash to the row before it."""
    with database.atomic():
        transaction_lock(_PG_CHAIN_LOCK)
        last = AuditLog.select(AuditLog.hash).order_by(AuditLog.id.desc()).first()
        entry = AuditLog(
            at=now(), actor=actor, binding=binding, action=action,
            target_type=target_type, target_id=str(target_id), scope_path=scope_path,
            before="" if before is None else json.dumps(before, ensure_ascii=False, default=str),
            after="" if after is None else json.dumps(after, ensure_ascii=False, default=str),
            address=address, result=result, prev_hash=last.hash if last else "",
        )
        entry.hash = _digest(_chained_fields(entry), entry.prev_hash)
        entry.save()
    return entry


def verify_chain() -> list[int]:
    """Ids of audit rows whose hash or link does not match; empty when intact."""
    broken, prev = [], ""
    for entry in AuditLog.select().order_by(AuditLog.id).iterator():
        if entry.prev_hash != prev or entry.hash != _digest(_chained_fields(entry), prev):
            broken.append(entry.id)
        prev = entry.hash
    return broken


def record_many(action: str, targets: list[tuple[str, str, str, dict]], *, actor=None,
                binding=None, address: str = "") -> None:
    """Append one chained row per (target_type, target_id, scope_path, after): a bulk act such as
    an import, in one transaction and one look-up of the chain's end."""
    with database.atomic():
        transaction_lock(_PG_CHAIN_LOCK)
        last = AuditLog.select(AuditLog.hash).order_by(AuditLog.id.desc()).first()
        prev, rows, stamp = (last.hash if last else ""), [], now()
        for target_type, target_id, scope_path, after in targets:
            entry = AuditLog(at=stamp, actor=actor, binding=binding, action=action,
                             target_type=target_type, target_id=str(target_id),
                             scope_path=scope_path, before="",
                             after=json.dumps(after, ensure_ascii=False, default=str),
                             address=address, result="ok", prev_hash=prev)
            entry.hash = prev = _digest(_chained_fields(entry), prev)
            rows.append(entry.__data__)
        for start in range(0, len(rows), 500):
            AuditLog.insert_many(rows[start:start + 500]).execute()
