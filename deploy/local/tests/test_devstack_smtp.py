from __future__ import annotations

import smtplib
from email.message import EmailMessage

from dsr_devstack import SmtpSink, free_port
from dsr_devstack._proc import pid_alive, port_free


def test_sink_stores_message_in_maildir(tmp_path, cleanup):
    sink = SmtpSink(tmp_path / "smtp", free_port())
    cleanup(sink)
    sink.start()
    assert sink.messages() == []

    msg = EmailMessage()
    msg["From"] = "register@dsr.example"
    msg["To"] = "gp@practice.example"
    msg["Subject"] = "Review due: p1"
    msg.set_content("Amber rating: review within 7 days.\n")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.send_message(msg, to_addrs=["gp@practice.example", "audit@dsr.example"])

    # The sink answers 250 only after the file is in the Maildir.
    [got] = sink.messages()
    assert got["Subject"] == "Review due: p1"
    assert got.get_all("Delivered-To") == ["gp@practice.example", "audit@dsr.example"]
    assert got.get_content() == "Amber rating: review within 7 days.\n"
    assert list((sink.maildir / "new").iterdir())  # readable by a person too

    pid = sink.pid
    sink.stop()
    assert not pid_alive(pid) and port_free(sink.port)
    assert len(sink.messages()) == 1  # mail outlives the server
