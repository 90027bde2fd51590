"""SIP over TLS through Kamailio's ``tls`` module, mutual TLS on every hop: ``voicebot dial``
(client certificate, CA-verified) -> Kamailio (requires and verifies client certificates,
presents its own) -> ``voicebot serve --tls-require-client-cert``. The call is SRTP mandatory
and the server echoes: what the caller records must be what it played. A caller without a
certificate is refused at the handshake."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.interop.media.conftest import read_channels, windowed_correlation
from tests.interop.media.test_media_pjsua2 import espeak, narrowband
from tests.interop.sip import peers
from tests.procs import free_port
from voicebot.media import read_wav

from .conftest import Certs, Server, run_voicebot

pytestmark = pytest.mark.interop

CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
enable_tls=yes
auto_aliases=no
alias="127.0.0.1:{port}"
listen=udp:127.0.0.1:{port}
listen=tls:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "tls.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "ctl.so"
modparam("tls", "config", "{tls_cfg}")
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("rr", "enable_full_lr", 1)

request_route {{
    if ($pr == "tls") {{
        xlog("L_NOTICE", "TLS $rm from $si peer=$tls_peer_san_hostname verified=$tls_peer_verified\\n");
    }}
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{ sl_send_reply("200", "OK"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    loose_route();
    record_route();
    if (!t_relay()) {{ sl_reply_error(); }}
}}
"""

TLS_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
private_key = {server_key}
certificate = {server_cert}
ca_list = {ca}

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
private_key = {client}
certificate = {client}
ca_list = {ca}
"""


@contextlib.contextmanager
def kamailio_tls(tmp: Path, certs: Certs) -> Iterator[tuple[int, Path]]:
    exe = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(peers.KAMAILIO_MODULES, "tls.so").exists():
        pytest.skip("Kamailio's tls module is missing (Debian package kamailio-tls-modules)")
    port = free_port()
    (tmp / "tls.cfg").write_text(
        TLS_CFG.format(
            server_key=certs.server_key, server_cert=certs.server_cert, ca=certs.ca, client=certs.client_cert
        )
    )
    cfg = tmp / "kamailio.cfg"
    cfg.write_text(CFG.format(port=port, mpath=peers.KAMAILIO_MODULES, tls_cfg=tmp / "tls.cfg", ctl=tmp / "ctl"))
    log = tmp / "kamailio.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(tmp), "-P", str(tmp / "k.pid")],
            stdout=fh, stderr=subprocess.STDOUT, preexec_fn=peers.die_with_parent,
        )  # fmt: skip
    try:
        if not peers.wait_udp_sip(port):
            raise RuntimeError(f"kamailio did not start: {log.read_text(errors='replace')[-3000:]}")
        yield port, log
    finally:
        peers.stop_process(proc)


def test_call_through_kamailio_over_mutual_tls_with_srtp(
    server: Callable[..., Server], certs: Certs, tmp_path: Path
) -> None:
    speech = espeak("The meeting moves to room four at three o'clock.", tmp_path / "speech.wav")
    heard = tmp_path / "heard.wav"
    srv = server(
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key), "--tls-ca", str(certs.ca),
        "--tls-require-client-cert", "--tls-port", "0", "--srtp", "mandatory", "--echo",
    )  # fmt: skip
    with kamailio_tls(tmp_path, certs) as (kport, klog):
        target = f"sip:bot@127.0.0.1:{srv.tls_port};transport=tls"
        proxy = f"sip:127.0.0.1:{kport};transport=tls"
        refused = run_voicebot(
            "dial", target, "--proxy", proxy, "--tls-ca", str(certs.ca), "--srtp", "mandatory", "--timeout", "5",
            "--no-media",
        )  # fmt: skip
        assert refused.returncode == 7, refused.stdout + refused.stderr  # no client certificate: no handshake
        dial = run_voicebot(
            "dial", target, "--proxy", proxy, "--tls-ca", str(certs.ca), "--tls-cert", str(certs.client_cert),
            "--srtp", "mandatory", "--play", str(speech), "--record-wav", str(heard), "--hangup-after", "5", "--trace",
        )  # fmt: skip
        kamailio_log = klog.read_text(errors="replace")
    out = srv.stop()
    assert dial.returncode == 0, dial.stdout[-3000:] + dial.stderr
    assert "RTP/SAVP" in dial.stdout and "a=crypto:" in dial.stdout
    assert "TLS INVITE from 127.0.0.1 peer=client.voicebot.test verified=1" in kamailio_log, kamailio_log[-3000:]
    assert "call 1 from" in out
    # the echo came back through SRTP both ways: the caller hears what it played
    assert windowed_correlation(narrowband(read_wav(speech)), read_channels(heard)[:, 0]) >= 0.8
