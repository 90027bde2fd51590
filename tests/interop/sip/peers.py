"""Real SIP peers for the interop tests: SIPp, Kamailio (generated config), helpers.

Every process started here is owned by the fixture or context manager that started it and is
killed on teardown.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.procs import die_with_parent as die_with_parent
from tests.procs import stop_process as stop_process

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"

KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
alias="127.0.0.1:{port}"
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("usrloc", "db_mode", 0)
modparam("auth", "algorithm", "{algorithm}")
modparam("auth", "nonce_count", 0)
modparam("rr", "append_fromtag", 1)
modparam("rr", "enable_full_lr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!sanity_check("1511", "7")) {{ exit; }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{ sl_send_reply("200", "OK"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ route(RELAY); exit; }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{ t_relay(); exit; }}
            if (uri != myself) {{ forward(); exit; }}
            # pyVoIP sends its ACK to its own To URI (us): deliver it to the registered contact
            if (lookup("location")) {{ forward(); }}
            exit;
        }}
        # peers that ignore Record-Route (pyVoIP) send in-dialog requests to us by R-URI
        if (uri != myself) {{ route(RELAY); exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ route(RELAY); }} exit; }}
    if (t_check_trans()) {{ exit; }}
    if (is_method("REGISTER")) {{
        if (!pv_auth_check("$fd", "{password}", "0", "1")) {{ auth_challenge("$fd", "1"); exit; }}
        consume_credentials();
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    {invite_auth}
    remove_hf("Route");
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{ record_route(); }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
"""


INVITE_AUTH = (
    'if (!pv_auth_check("$fd", "PASSWORD", "0", "1")) { auth_challenge("$fd", "1"); exit; }\n    consume_credentials();'
)


@dataclass
class Kamailio:
    port: int
    password: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"


def wait_udp_sip(port: int, timeout: float = 10.0) -> bool:
    """Poll with OPTIONS until something answers on UDP ``port``."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        lport = s.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            msg = (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bKwait{n}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
                f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: wait{n}@probe\r\nCSeq: {n} OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            s.sendto(msg, ("127.0.0.1", port))
            try:
                data = s.recv(65535)
            except OSError:
                continue
            if data.startswith(b"SIP/2.0"):
                return True
    return False


@contextlib.contextmanager
def run_kamailio(
    tmp: Path, port: int, password: str, algorithm: str = "SHA-256", *, auth_invite: bool = True
) -> Iterator[Kamailio]:
    """Kamailio on ``port``: REGISTER always needs digest auth; other requests when ``auth_invite``."""
    exe = shutil.which("kamailio") or "/usr/sbin/kamailio"
    cfg = tmp / "kamailio.cfg"
    ctl = tmp / "kamailio_ctl"
    cfg.write_text(
        KAMAILIO_CFG.format(
            port=port,
            mpath=KAMAILIO_MODULES,
            password=password,
            algorithm=algorithm,
            ctl=ctl,
            invite_auth=INVITE_AUTH.replace("PASSWORD", password) if auth_invite else "",
        )
    )
    log = tmp / "kamailio.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(tmp), "-P", str(tmp / "k.pid")],
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    try:
        if not wait_udp_sip(port):
            raise RuntimeError(f"kamailio did not start: {log.read_text(errors='replace')[-3000:]}")
        yield Kamailio(port=port, password=password, process=proc, log=log)
    finally:
        stop_process(proc)


def sipp_cmd(*args: str) -> list[str]:
    return [shutil.which("sipp") or "/usr/bin/sipp", *args]
