"""The list of common passwords CarePulse refuses (NIST SP 800-63B, 3.1.1.2), and how it is built.

Offline, no breach corpus can be fetched, so ``common_passwords.txt`` (package data) is built by
:func:`build` from a short curated head of publicly listed most-common passwords (NCSC "100k most
common", SecLists top lists, annual "worst passwords" lists) and from the ways people stretch them
past a length rule: a common word plus a year, digits or "!", doubled, or mirrored, and digit runs.
Only entries of at least 12 characters are kept (shorter ones fail the length rule anyway). It is a
floor, not a breach check: a deployment may append lines (lower case) to the file.
"""

from __future__ import annotations

import functools
from importlib.resources import files

FILE_NAME = "common_passwords.txt"
_HEADER = (
    "# Common and breached passwords CarePulse refuses (NIST SP 800-63B 3.1.1.2), lower case, one a line.\n"
    "# Built by carepulse.access.password_blocklist.build(); source and limits in docs/security.md.\n"
)

_TOP = """123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball abc123
football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang 1234567890 michael 654321
superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh
hunter buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie robert thomas hockey
ranger daniel starwars klaster 112233 george computer michelle jessica pepper 1111 zxcvbn 555555 11111111
131313 freedom 777777 pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley
nicole chelsea biteme matthew access yankees 987654321 dallas austin thunder taylor matrix mobilemail
mom monitor monitoring montana moon moscow welcome welcome1 password1 password123 admin admin123 root
toor changeme secret letmein1 passw0rd p@ssw0rd p@ssword qwerty123 qwerty1 iloveyou1 abc12345
football1 baseball1 whatever hello hello123 login guest default administrator 1q2w3e4r 1q2w3e4r5t
1q2w3e4r5t6y zaq12wsx zaq1zaq1 asdfghjkl asdf1234 qwer1234 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 samsung
google internet computer1 flower flowers orange banana apple chocolate cookie butterfly purple
lovely angel angels babygirl liverpool arsenal barcelona juventus realmadrid chelsea1 manchester
everton tottenham newcastle celtic rangers qwertyu asdfghj zxcvbnm1 azerty azertyuiop 1234qwer
trustme trustnoone nothing blahblah qwerty12 111222 112233445566 123654 123abc 147258 147258369
159357 188888 1qazxsw2 2wsx3edc 3edc4rfv 5201314 520520 7758521 88888888 99999999 987654 a123456
aa123456 abcd1234 abcdef abcdefg abcdefgh baby123 family hospital nurse doctor clinic patient health
healthcare medical carepulse streamlit analytics coordinator manager qualitylead analyst""".split()
_BASES = sorted(
    {w for w in _TOP if w.isalpha()}
    | set(
        """password passw0rd p@ssw0rd letmein welcome qwerty iloveyou
admin administrator changeme monkey dragon football baseball soccer hockey basketball sunshine princess
shadow master superman batman spiderman starwars pokemon michael jennifer jessica ashley daniel thomas
robert charlie jordan hunter tigger buster pepper ginger maggie freedom whatever trustno1 secret summer
winter spring autumn january february march april june july august september october november december
monday friday sunday hospital nurse doctor clinic patient health healthcare medical carepulse
coordinator manager analyst qualitylead welcome2 iloveyou2 loveyou mylove lovely angel baby babygirl
family forever friends friend happy hello computer internet samsung google microsoft windows linux
apple orange banana chocolate cookie cheese purple yellow silver golden diamond london paris newyork
chicago boston texas california florida america canada liverpool arsenal chelsea barcelona""".split()
    )
)
_SUFFIXES = [
    "",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "!",
    "1!",
    "123!",
    "@123",
    "#1",
    "01",
    "007",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
    "2027",
] + [str(y) for y in range(1950, 2031)]


def build() -> str:
    """The text of ``common_passwords.txt`` (deterministic: the committed file must equal it)."""
    out = {word.lower() for word in _TOP}
    for base in _BASES:
        out.update((base + suffix).lower() for suffix in _SUFFIXES)
        out.update({(base * 2).lower(), (base + base[::-1]).lower()})
    out.update("".join(str(i % 10) for i in range(1, n + 1)) for n in range(4, 21))
    return _HEADER + "\n".join(sorted(w for w in out if len(w) >= 12)) + "\n"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The refused passwords, lower case."""
    text = files("carepulse.access").joinpath(FILE_NAME).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
