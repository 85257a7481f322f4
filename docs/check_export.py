#!/usr/bin/env python3
"""Check a sledger export against docs/FORMAT.md, without sledger.

Usage: python3 check_export.py [EXPORT.jsonl]     (reads stdin without a path)

For every line this recomputes each txid (signed entries included), the
Merkle root and the block hash, checks the link to the previous block, the
height, the proof of work, the genesis parameters (versions 1 and 2), the
difficulty retarget, the median time past, the two-hour future limit, the
size limit, txid uniqueness, the signature policy, bindable names, every
Ed25519 signature (cofactored, strict encodings) and the name rule. It
prints "ok: N blocks, M transactions, S signed" and exits 0, or prints
"line N: reason" on stderr and exits 1. Standard library only.
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
SIGNED_MARKER = 0x81
SIGNING_DOMAIN = b"sledger signed entry v1\0"  # 24 bytes
# Code points a signed entry's author may not hold (FORMAT.md, "Names").
UNBINDABLE = [
    (0x00A0, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x206F), (0x2800, 0x2800),
    (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]


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


def encode_tx(author, timestamp, data, key=None, sig=None):
    """The canonical encoding: unsigned (format 0), or signed (format 1) when
    `key` and `sig` are given: 0x81, the same fields, key (32), sig (64)."""
    enc = bytes([len(author)]) + author + struct.pack("<QI", timestamp, len(data)) + data
    if key is None:
        return enc
    return bytes([SIGNED_MARKER]) + enc + key + sig


def unbindable(name):
    """The first code point that keeps `name` from being bound, or None."""
    if name.startswith(" ") or name.endswith(" "):
        return 0x20
    for c in name:
        if any(lo <= ord(c) <= hi for lo, hi in UNBINDABLE):
            return ord(c)
    return None


def fingerprint(key):
    return sha(key)[:8].hex()


# Ed25519 (RFC 8032) verification by FORMAT.md, "Signatures": strict
# encodings, small-order points refused, S < l, the cofactored equation.
P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
D2 = 2 * D % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def point_add(p1, p2):
    """Extended twisted Edwards coordinates (X, Y, Z, T), x = X/Z, y = Y/Z,
    x*y = T/Z; the unified formula for a = -1 (RFC 8032, 5.1.4)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_double(p1):
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_neg(p1):
    x, y, z, t = p1
    return (-x % P, y, z, -t % P)


def is_identity(p1):
    x, y, z, _ = p1
    return x % P == 0 and (y - z) % P == 0


def times_8(p1):
    return point_double(point_double(point_double(p1)))


def decode_point(b):
    """RFC 8032, 5.1.3, refusing every non-canonical encoding: y must be
    below p and x = 0 must have the sign bit clear. None if not a point."""
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vxx = v * x * x % P
    if vxx == u:
        pass
    elif vxx == -u % P:
        x = x * SQRT_M1 % P
    else:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def scalar_mult(k, p1):
    """[k]p1, four bits at a time from the top."""
    table = [IDENTITY, p1]
    for _ in range(14):
        table.append(point_add(table[-1], p1))
    q = IDENTITY
    for shift in range(((k.bit_length() + 3) // 4) * 4 - 4, -4, -4):
        q = point_double(point_double(point_double(point_double(q))))
        nib = (k >> shift) & 15
        if nib:
            q = point_add(q, table[nib])
    return q


BASE = decode_point(bytes.fromhex(
    "5866666666666666666666666666666666666666666666666666666666666666"))
_BASE_TABLE = []


def base_mult(k):
    """[k]B with a table of [j * 16^i]B, built on first use."""
    if not _BASE_TABLE:
        row = BASE
        for _ in range(64):
            entries = [IDENTITY, row]
            for _ in range(14):
                entries.append(point_add(entries[-1], row))
            _BASE_TABLE.append(entries)
            row = point_add(entries[15], row)  # [16^(i+1)]B
    q, i = IDENTITY, 0
    while k:
        if k & 15:
            q = point_add(q, _BASE_TABLE[i][k & 15])
        k >>= 4
        i += 1
    return q


def verify(key, message, sig):
    """None when `sig` (64 bytes) is `key`'s (32 bytes) signature of
    `message`, else why not (FORMAT.md, "Signatures")."""
    a = decode_point(key)
    if a is None:
        return "the public key is not a valid Ed25519 point"
    if is_identity(times_8(a)):
        return "the public key is a point of small order"
    r = decode_point(sig[:32])
    if r is None:
        return "the signature's R is not a valid Ed25519 point"
    if is_identity(times_8(r)):
        return "the signature's R is a point of small order"
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return "the signature's S is not below the group order"
    k = int.from_bytes(hashlib.sha512(sig[:32] + key + message).digest(), "little") % L
    check = point_add(point_add(base_mult(s), scalar_mult(k, point_neg(a))), point_neg(r))
    if not is_identity(times_8(check)):
        return "the signature does not verify"
    return None


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
        version = b[0]
        if version not in (1, 2):
            raise Bad("genesis parameters: unknown format version")
        m = b[1]
        name = b[2:2 + m].decode("utf-8")
        want = 35 + m if version == 1 else 36 + m
        if len(b) != want:
            raise Bad(f"genesis parameters (version {version}) are {len(b)} bytes, expected {want}")
        diff, interval, window, fixed = struct.unpack_from("<IQIB", b, 2 + m)
        if version == 2 and b[-1] != 1:
            raise Bad(f"genesis parameters: version 2 with signature policy {b[-1]}, not 1")
    except (IndexError, UnicodeDecodeError, struct.error) as e:
        raise Bad(f"genesis parameters do not decode: {e}")
    check_text(name, "chain name")
    if diff > MAX_DIFFICULTY or not 1 <= interval <= 86_400_000 \
            or not 2 <= window <= 100_000 or fixed not in (0, 1):
        raise Bad("genesis parameters: a parameter is out of range")
    return {"name": name, "difficulty": diff, "interval": interval,
            "window": window, "fixed": fixed == 1, "required": version == 2}


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
    txids, size, entries = [], 96 + 4, []
    for i, t in enumerate(txs):
        if not isinstance(t, dict):
            raise Bad(f"transaction {i} is not an object")
        exact_keys(t, ("txid", "author", "timestamp"), f"transaction {i}",
                   ("data", "data_hex", "public_key", "signature"))
        has_text, has_hex = "data" in t, "data_hex" in t  # null is present, and not a string
        if has_text == has_hex:
            raise Bad(f"transaction {i} needs exactly one of data and data_hex")
        data = get(t, "data", str).encode("utf-8") if has_text \
            else parse_hex(t["data_hex"], f"data_hex of transaction {i}")
        has_key, has_sig = "public_key" in t, "signature" in t
        if has_key != has_sig:
            raise Bad(f"transaction {i} needs both public_key and signature, or neither")
        key = parse_hex(t["public_key"], f"public_key of transaction {i}", 32) if has_key else None
        sig = parse_hex(t["signature"], f"signature of transaction {i}", 64) if has_sig else None
        if len(data) > MAX_DATA:
            raise Bad(f"transaction {i}: data is {len(data)} bytes, over {MAX_DATA}")
        author = check_text(get(t, "author", str), "author")
        enc = encode_tx(author, get(t, "timestamp", int, U64), data, key, sig)
        txid = sha(enc)
        if txid != parse_hex(t["txid"], "txid", 32):
            raise Bad(f"transaction {i} hashes to {txid.hex()}, not {t['txid']}")
        txids.append(txid)
        # For the signature rules: the name, key, signature, signed body.
        entries.append((t["author"], key, sig, enc[:-64] if key else None))
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
        if entries[0][1] is not None:
            raise Bad("the genesis transaction is signed")
        chain["genesis"] = bhash
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
    signed = [i for i, e in enumerate(entries) if e[1] is not None]
    if chain["times"]:  # common rules 7-9; the genesis entry is unsigned (rule 3)
        for i, (name, key, _, _) in enumerate(entries):
            if key is None and chain["params"]["required"]:
                raise Bad(f"entry {txids[i].hex()} is unsigned, and this ledger "
                          "requires every entry to be signed")
            cp = unbindable(name) if key is not None else None
            if cp is not None:
                raise Bad(f"entry {txids[i].hex()} is signed under a name holding "
                          f"U+{cp:04X}, which a signed name may not hold")
        for i in signed:
            _, key, sig, body = entries[i]
            why = verify(key, SIGNING_DOMAIN + chain["genesis"] + body, sig)
            if why:
                raise Bad(f"entry {txids[i].hex()} has an invalid signature: {why}")
    for t in txids:  # rule 10
        if t in seen:
            raise Bad(f"transaction {t.hex()} is already in the chain")
    names = chain["names"]  # rule 11: name -> the key it is bound to
    for i, (name, key, _, _) in enumerate(entries):
        bound = names.get(name)
        if bound is None:
            if key is not None:
                names[name] = key
        elif key is None:
            raise Bad(f"entry {txids[i].hex()} under {name!r} is unsigned, but the name "
                      f"is bound to key {fingerprint(bound)}")
        elif key != bound:
            raise Bad(f"entry {txids[i].hex()} under {name!r} is signed by key "
                      f"{fingerprint(key)}, but the name is bound to key {fingerprint(bound)}")
    seen.update(txids)
    chain["times"].append(ts)
    chain["hash"], chain["difficulty"] = bhash, diff
    return len(txids), len(signed)


def main():
    src = open(sys.argv[1], "rb") if len(sys.argv) > 1 else sys.stdin.buffer
    chain = {"times": [], "hash": None, "difficulty": None, "params": None,
             "genesis": None, "names": {}}
    seen, ntx, nsigned, n, now = set(), 0, 0, 0, int(time.time() * 1000)
    with src:
        for n, raw in enumerate(src, 1):
            try:
                line = raw.decode("utf-8")
                if not is_blank(line):
                    count, signed = check_block(line, chain, seen, now)
                    ntx, nsigned = ntx + count, nsigned + signed
            except UnicodeError as e:  # bad UTF-8 bytes, or a lone surrogate escape
                return fail(n, f"invalid text: {e}")
            except Bad as e:
                return fail(n, e)
    if not chain["times"]:
        return fail(n + 1, "the export holds no blocks")
    print(f"ok: {len(chain['times'])} blocks, {ntx} transactions, {nsigned} signed")
    return 0


def fail(n, reason):
    print(f"line {n}: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
