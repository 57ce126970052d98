"""Decode fragments of NHSRplotthedots tests/testthat/_snaps/integration_tests.md (commit
0c096d813e16e4fe606c37eb70020e74a5dcbbe8): base64 of R serialize() XDR output; lines of 72 chars are
aligned on 3-byte groups so each transcribed run of whole lines decodes on its own."""
import base64, struct, re

ATT_HEAD = """WAoAAAACAAQBAQACAwAAAAMTAAAAEAAAAA4AAAAkQTyABQAAAABBP5dEAAAAAEE945IAAAAA
QT+5OgAAAABBPX5lAAAAAEE9ytAAAAAAQT6LmAAAAABBPRyfAAAAAEE9q/cAAAAAQTzraAAA
AABBOnvDAAAAAEE+wloAAAAAQT3AQgAAAABBP4llAAAAAEE+bUgAAAAAQT+lWAAAAABBPV43
AAAAAEE9Y0kAAAAAQT8w6QAAAABBPiqLAAAAAEE+k/IAAAAAQT6E1gAAAABBO8VsAAAAAEE/
RvkAAAAAQT5HcQAAAABBQIN1AAAAAEE/83YAAAAAQUChnAAAAABBPnweAAAAAEE+mr8AAAAA
QT+7BAAAAABBPxhXAAAAAEE/Ph4AAAAAQUAfwoAAAABBPdSDAAAAAEFAiX8AAAAAAAADDgAA"""
ATT_MEAN = "ckE+hprxxxxyQT6GmvHHHHJBPoaa8cccckE+hprxxxxyQT6GmvHHHHJBPoaa8cccckE+hprx"
ATT_LPL = "Om0EXUw7KkE6bQRdTDsqQTptBF1MOypBOm0EXUw7KkE6bQRdTDsqQTptBF1MOypBOm0EXUw7"
ATT_UPL = "QVAYwyD+3UFBUBjDIP7dQUFQGMMg/t1BQVAYwyD+3UFBUBjDIP7dQUFQGMMg/t1BQVAYwyD+"
# rebase at 2017-04-01: group means / limits (first 12 points, then 24)
REB_MEAN = ["q0E9tOpqqqqrQT206mqqqqtBPbTqaqqqq0E9tOpqqqqrQT206mqqqqtBPbTqaqqqq0E9tOpq",
            "qqqrQT206mqqqqtBPu9zNVVVVUE+73M1VVVVQT7vczVVVVVBPu9zNVVVVUE+73M1VVVVQT7v"]
REB_LPL = ["9hIAQTkGC1/2EgBBOQYLX/YSAEE5Bgtf9hIAQTkGC1/2EgBBOQYLX/YSAEE5Bgtf9hIAQTkG",
           "Ow15EGFarUE7DXkQYVqtQTsNeRBhWq1BOw15EGFarUE7DXkQYVqtQTsNeRBhWq1BOw15EGFa"]
REB_UPL = ["QTHkuq+hq0FBMeS6r6GrQUEx5LqvoatBQTHkuq+hq0FBMeS6r6GrQUEx5LqvoatBQTHkuq+h",
           "JKf/QUFotq0kp/9BQWi2rSSn/0FBaLatJKf/QUFotq0kp/9BQWi2rSSn/0FBaLatJKf/QUFo"]

PERF_HEAD = """WAoAAAACAAQBAQACAwAAAAMTAAAAEAAAAA4AAAAkP+zPrXjCILY/7ONfrso0DT/s+quu1Glt
P+zkKuGWzbc/7RzHf5peRD/tAd+WiUnNP+x/OqdX/tA/7EgCuSyf2z/rk4iRC+ZvP+s+x1bv
qr8/7AKIGl8V7T/szZPrxwKKP+z3Am5MWuc/7LRAt78KfD/tCDUJd+jOP+zpS+5dCRI/7OVR
VxZ74z/ssXJIbXunP+zICa5nIHQ/7GfBh8m9Nz/rMflaP6u+P+tLtYEOwBY/6zbeEpfBMj/r
FCuIFDq4P+xX27WfH5E/7OzCCBMJGj/tC019zVuIP+yVDXsWAnE/7LZwJLPitD/sdkQ5Wm1T
P+x7pQxuLAE/7AiO1D5zvT/rqa7EcyHRP+r+KHALV/w/6vO7hFOFeT/rtp9SPyZyAAADDgAA"""
PERF_MEAN = "Bj/sgi8CZXUGP+yCLwJldQY/7IIvAmV1Bj/sgi8CZXUGP+yCLwJldQY/7IIvAmV1Bj/sgi8C"
PERF_LPL = "oSygm1o/65ChLKCbWj/rkKEsoJtaP+uQoSygm1o/65ChLKCbWj/rkKEsoJtaP+uQoSygm1o/"
PERF_UPL = "7XO82CpOsj/tc7zYKk6yP+1zvNgqTrI/7XO82CpOsj/tc7zYKk6yP+1zvNgqTrI/7XO82CpO"
PERF_TYPES = """AD/wAAAAAAAAP/AAAAAAAAAAAAAQAAAAJAAEAAkAAAAMY29tbW9uX2NhdXNlAAQACQAAAAxj
b21tb25fY2F1c2UABAAJAAAADGNvbW1vbl9jYXVzZQAEAAkAAAAMY29tbW9uX2NhdXNlAAQA
CQAAAAxjb21tb25fY2F1c2UABAAJAAAADGNvbW1vbl9jYXVzZQAEAAkAAAAMY29tbW9uX2Nh
dXNlAAQACQAAAAxjb21tb25fY2F1c2UABAAJAAAADGNvbW1vbl9jYXVzZQAEAAkAAAAVc3Bl
Y2lhbF9jYXVzZV9jb25jZXJuAAQACQAAAAxjb21tb25fY2F1c2UABAAJAAAAGXNwZWNpYWxf
Y2F1c2VfaW1wcm92ZW1lbnQABAAJAAAAGXNwZWNpYWxfY2F1c2VfaW1wcm92ZW1lbnQABAAJ
AAAAGXNwZWNpYWxfY2F1c2VfaW1wcm92ZW1lbnQABAAJAAAAGXNwZWNpYWxfY2F1c2VfaW1w
cm92ZW1lbnQABAAJAAAAGXNwZWNpYWxfY2F1c2VfaW1wcm92ZW1lbnQABAAJAAAAGXNwZWNp
YWxfY2F1c2VfaW1wcm92ZW1lbnQABAAJAAAAGXNwZWNpYWxfY2F1c2VfaW1wcm92ZW1lbnQA
BAAJAAAAGXNwZWNpYWxfY2F1c2VfaW1wcm92ZW1lbnQABAAJAAAADGNvbW1vbl9jYXVzZQAE
AAkAAAAVc3BlY2lhbF9jYXVzZV9jb25jZXJuAAQACQAAABVzcGVjaWFsX2NhdXNlX2NvbmNl
cm4ABAAJAAAAFXNwZWNpYWxfY2F1c2VfY29uY2VybgAEAAkAAAAVc3BlY2lhbF9jYXVzZV9j
b25jZXJuAAQACQAAAAxjb21tb25fY2F1c2UABAAJAAAADGNvbW1vbl9jYXVzZQAEAAkAAAAM
Y29tbW9uX2NhdXNlAAQACQAAAAxjb21tb25fY2F1c2UABAAJAAAADGNvbW1vbl9jYXVzZQAE
AAkAAAAVc3BlY2lhbF9jYXVzZV9jb25jZXJuAAQACQAAABVzcGVjaWFsX2NhdXNlX2NvbmNl
cm4ABAAJAAAAFXNwZWNpYWxfY2F1c2VfY29uY2VybgAEAAkAAAAVc3BlY2lhbF9jYXVzZV9j
b25jZXJuAAQACQAAABVzcGVjaWFsX2NhdXNlX2NvbmNlcm4ABAAJAAAAFXNwZWNpYWxfY2F1
c2VfY29uY2VybgAEAAkAAAAVc3BlY2lhbF9jYXVzZV9jb25jZXJuAAAADgAAACR/8AAAAAAH"""

def head_doubles(text):
    b = base64.b64decode(text.replace("\n", ""))
    # header: 'X\n' + version(4) + R version(4) + min version(4) + VECSXP flags(4) + len(4)
    #        + REALSXP flags(4) + len(4) = 2 + 28
    assert b[:2] == b"X\n"
    off = 2 + 4 * 3 + 4 + 4
    flags, n = struct.unpack(">ii", b[off:off + 8])
    assert flags & 0xFF == 14 and n == 36, (flags, n)
    off += 8
    return [struct.unpack(">d", b[off + 8 * i: off + 8 * i + 8])[0] for i in range(n)]

def constant(line, lo, hi):
    b = base64.b64decode(line)
    found = set()
    for off in range(8):
        vals = [struct.unpack(">d", b[i:i + 8])[0] for i in range(off, len(b) - 7, 8)]
        if len(set(vals)) == 1 and lo <= vals[0] <= hi:
            found.add(vals[0])
    return sorted(found)

def two_constants(line, lo, hi):
    """A line where the repeated value changes from group 1 to group 2 (rebase)."""
    b = base64.b64decode(line)
    out = set()
    for off in range(8):
        vals = [struct.unpack(">d", b[i:i + 8])[0] for i in range(off, len(b) - 7, 8)]
        if all(lo <= v <= hi for v in vals):
            out.update(vals)
    return sorted(out)

att = head_doubles(ATT_HEAD)
perf = head_doubles(PERF_HEAD)
print("att", att)
print("att mean/lpl/upl", constant(ATT_MEAN, min(att), max(att)), constant(ATT_LPL, 1e6, 3e6), constant(ATT_UPL, 1e6, 3e6))
print("reb mean", [two_constants(l, 1.5e6, 2.5e6) for l in REB_MEAN])
print("reb lpl", [two_constants(l, 1e6, 2.5e6) for l in REB_LPL])
print("reb upl", [two_constants(l, 1.5e6, 3e6) for l in REB_UPL])
print("perf", perf)
print("perf mean/lpl/upl", constant(PERF_MEAN, 0.5, 1), constant(PERF_LPL, 0.5, 1), constant(PERF_UPL, 0.5, 1))
tb = base64.b64decode(PERF_TYPES.replace("\n", ""))
types = re.findall(rb"(common_cause|special_cause_concern|special_cause_improvement)", tb)
print(len(types), [t.decode() for t in types])
