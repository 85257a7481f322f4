#!/usr/bin/env python3
"""Check a sledger export against docs/FORMAT.md, without sledger.

Usage: python3 check_export.py [EXPORT.jsonl]     (reads stdin without a path)

For every line this recomputes each txid, the Merkle root and the block hash,
checks the link to the previous block, the height, the proof of work, the
genesis parameters, the difficulty retarget, the median time past, the
two-hour future limit, the size limit and txid uniqueness. It prints
"ok: N blocks, M transactions" and exits 0, or prints "line N: reason" on
stderr and exits 1.
"""
import hashlib
import json
import struct
import sys
import time

MAX_AUTHOR, MAX_DATA, MAX_BLOCK = 64, 65536, 1 << 20
MAX_DIFFICULTY, MAX_FUTURE_MS, MEDIAN_SPAN = 192, 2 * 60 * 60 * 1000, 11
U32, U64 = (1 << 32) - 1, (1 << 64) - 1
ZERO = bytes(32)


class Bad(Exception):
    pass


def sha(b):
    return hashlib.sha256(b).digest()


def is_control(ch):  # Unicode category Cc
    return ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F


def check_text(s, what):
    b = s.encode("utf-8")
    if not 1 <= len(b) <= MAX_AUTHOR or any(is_control(c) for c in s):
        raise Bad(f"{what} {s!r} must be 1 to 64 bytes without control characters")
    return b


def get(obj, key, kind, limit=None):
    v = obj.get(key) if isinstance(obj, dict) else None
    if kind is int:
        if type(v) is not int or not 0 <= v <= limit:
            raise Bad(f"{key} must be an integer in 0..={limit}, got {v!r}")
    elif not isinstance(v, kind):
        raise Bad(f"{key} missing or of the wrong type")
    return v


def parse_hex(s, what, size=None):
    if not isinstance(s, str) or len(s) % 2 or (size and len(s) != 2 * size):
        raise Bad(f"{what} is not {'%d-byte ' % size if size else ''}hex: {s!r:.80}")
    if any(c not in "0123456789abcdefABCDEF" for c in s):
        raise Bad(f"{what} is not hex: {s!r:.80}")
    return bytes.fromhex(s)


def exact_keys(obj, keys, what, optional=()):
    extra = set(obj) - set(keys) - set(optional)
    if extra or not set(keys) <= set(obj):
        raise Bad(f"{what} must have the fields {sorted(keys)}, got {sorted(obj)}")


def encode_tx(author, timestamp, data):
    return bytes([len(author)]) + author + struct.pack("<QI", timestamp, len(data)) + data


def merkle_root(txids):
    if not txids:
        return ZERO
    level = [sha(b"\x00" + t) for t in txids]
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


def leading_zero_bits(h):
    n = int.from_bytes(h, "big")
    return 256 - n.bit_length()


def decode_params(b):
    """The chain parameters carried by the genesis transaction."""
    try:
        if b[0] != 1:
            raise Bad("genesis parameters: unknown format version")
        m = b[1]
        name = b[2:2 + m].decode("utf-8")
        if len(b) != 35 + m:
            raise Bad(f"genesis parameters are {len(b)} bytes, expected {35 + m}")
        diff, interval, window, fixed = struct.unpack_from("<IQIB", b, 2 + m)
    except (IndexError, UnicodeDecodeError, struct.error) as e:
        raise Bad(f"genesis parameters do not decode: {e}")
    check_text(name, "chain name")
    if diff > MAX_DIFFICULTY or not 1 <= interval <= 86_400_000 \
            or not 2 <= window <= 100_000 or fixed not in (0, 1):
        raise Bad("genesis parameters: a parameter is out of range")
    return {"name": name, "difficulty": diff, "interval": interval,
            "window": window, "fixed": fixed == 1}


def retarget(p, old, span):
    e = p["interval"] * (p["window"] - 1)
    a = min(max(span, max((e + 3) // 4, 1)), 4 * e)

    def steps(big, small):
        return next((k for k in (2, 1, 0) if 2 * big * big >= 4 ** k * small * small), 0)

    new = old + steps(e, a) if a < e else old - steps(a, e)
    return min(max(new, 0), MAX_DIFFICULTY)


def next_difficulty(p, times, parent_difficulty):
    h = len(times)  # height of the child; times[k] is block k's timestamp
    if p["fixed"] or h % p["window"] != 0:
        return parent_difficulty
    return retarget(p, parent_difficulty, max(times[-1] - times[h - p["window"]], 0))


def median_time_past(times):
    recent = sorted(times[-MEDIAN_SPAN:])
    return recent[len(recent) // 2]


def unique_keys(pairs):
    """An object's fields; a key given twice is refused (FORMAT.md, "Reading JSON")."""
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Bad(f"key {k!r} given twice")
        obj[k] = v
    return obj


def no_constant(name):
    raise Bad(f"{name} is not JSON")


def read_json(line):
    """One JSON document, read as FORMAT.md says: no repeated key, no NaN or
    Infinity, and an integer is digits only (a minus sign makes it a float
    here, which no integer field accepts; so `-0` is refused)."""
    try:
        return json.loads(line, object_pairs_hook=unique_keys, parse_constant=no_constant,
                          parse_int=lambda s: float(s) if s.startswith("-") else int(s))
    except ValueError as e:
        raise Bad(f"not JSON: {e}")


def is_blank(line):
    """Only JSON whitespace (space, tab, CR, LF): not a form feed, not U+3000."""
    return not line.strip(" \t\r\n")


def check_block(line, chain, seen, now):
    """Checks one export line on top of `chain`, then extends it; returns the tx count."""
    b = read_json(line)
    if not isinstance(b, dict):
        raise Bad("not a JSON object")
    exact_keys(b, ("hash", "header", "txs"), "block")
    h, txs = get(b, "header", dict), get(b, "txs", list)
    exact_keys(h, ("version", "height", "prev_hash", "merkle_root",
                   "timestamp", "difficulty", "nonce"), "header")

    # Transactions: rebuild the canonical bytes, check each txid.
    txids, size = [], 96 + 4
    for i, t in enumerate(txs):
        if not isinstance(t, dict):
            raise Bad(f"transaction {i} is not an object")
        exact_keys(t, ("txid", "author", "timestamp"), f"transaction {i}", ("data", "data_hex"))
        has_text, has_hex = "data" in t, "data_hex" in t  # null is present, and not a string
        if has_text == has_hex:
            raise Bad(f"transaction {i} needs exactly one of data and data_hex")
        data = get(t, "data", str).encode("utf-8") if has_text \
            else parse_hex(t["data_hex"], f"data_hex of transaction {i}")
        if len(data) > MAX_DATA:
            raise Bad(f"transaction {i}: data is {len(data)} bytes, over {MAX_DATA}")
        author = check_text(get(t, "author", str), "author")
        enc = encode_tx(author, get(t, "timestamp", int, U64), data)
        txid = sha(enc)
        if txid != parse_hex(t["txid"], "txid", 32):
            raise Bad(f"transaction {i} hashes to {txid.hex()}, not {t['txid']}")
        txids.append(txid)
        genesis_data = data  # used only when this is the genesis' one transaction
        size += len(enc)

    # Header: rebuild the 96 bytes, check the block hash.
    version, height = get(h, "version", int, U32), get(h, "height", int, U64)
    prev = parse_hex(h["prev_hash"], "prev_hash", 32)
    root = parse_hex(h["merkle_root"], "merkle_root", 32)
    ts, diff = get(h, "timestamp", int, U64), get(h, "difficulty", int, U32)
    header = struct.pack("<IQ", version, height) + prev + root \
        + struct.pack("<QIQ", ts, diff, get(h, "nonce", int, U64))
    bhash = sha(header)
    if bhash != parse_hex(b["hash"], "hash", 32):
        raise Bad(f"block hashes to {bhash.hex()}, not {b['hash']}")

    # Acceptance rules, in the order of FORMAT.md.
    if not chain["times"]:  # genesis
        if height != 0:
            raise Bad(f"the first block must be the genesis (height 0), got height {height}")
        if prev != ZERO:
            raise Bad("genesis previous hash is not all zeros")
        if len(txs) != 1 or txs[0]["author"] != "genesis":
            raise Bad("genesis must hold one transaction by author 'genesis'")
        chain["params"] = p = decode_params(genesis_data)
        if diff != p["difficulty"]:
            raise Bad(f"genesis difficulty {diff}, parameters say {p['difficulty']}")
    else:
        times = chain["times"]
        if version != 1:
            raise Bad(f"unsupported version {version}")
        if height != len(times):
            raise Bad(f"wrong height {height}: expected {len(times)}")
        if prev != chain["hash"]:
            raise Bad(f"prev_hash {prev.hex()} is not the previous block {chain['hash'].hex()}")
        want = next_difficulty(chain["params"], times, chain["difficulty"])
        if diff != want:
            raise Bad(f"wrong difficulty {diff}: the retarget rule requires {want}")
        mtp = median_time_past(times)
        if ts <= mtp:
            raise Bad(f"timestamp {ts} is not after the median time past {mtp}")
    if version != 1:
        raise Bad(f"unsupported version {version}")
    if size > MAX_BLOCK:
        raise Bad(f"block is {size} bytes, over {MAX_BLOCK}")
    if leading_zero_bits(bhash) < diff:
        raise Bad(f"hash {bhash.hex()} does not start with {diff} zero bits")
    if ts > now + MAX_FUTURE_MS:
        raise Bad(f"timestamp {ts} is more than 2 hours ahead of now ({now})")
    if merkle_root(txids) != root:
        raise Bad(f"merkle_root {root.hex()} does not match the transactions "
                  f"({merkle_root(txids).hex()})")
    if len(set(txids)) != len(txids):
        raise Bad("a transaction appears twice in the block")
    for t in txids:
        if t in seen:
            raise Bad(f"transaction {t.hex()} is already in the chain")
    seen.update(txids)
    chain["times"].append(ts)
    chain["hash"], chain["difficulty"] = bhash, diff
    return len(txids)


def main():
    src = open(sys.argv[1], "rb") if len(sys.argv) > 1 else sys.stdin.buffer
    chain = {"times": [], "hash": None, "difficulty": None, "params": None}
    seen, ntx, n, now = set(), 0, 0, int(time.time() * 1000)
    with src:
        for n, raw in enumerate(src, 1):
            try:
                line = raw.decode("utf-8")
                if not is_blank(line):
                    ntx += check_block(line, chain, seen, now)
            except UnicodeError as e:  # bad UTF-8 bytes, or a lone surrogate escape
                return fail(n, f"invalid text: {e}")
            except Bad as e:
                return fail(n, e)
    if not chain["times"]:
        return fail(n + 1, "the export holds no blocks")
    print(f"ok: {len(chain['times'])} blocks, {ntx} transactions")
    return 0


def fail(n, reason):
    print(f"line {n}: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
