"""STAND-IN for the trader's mail server: a real SMTP server on loopback (the plain protocol: EHLO,
MAIL, RCPT, DATA, QUIT; AUTH PLAIN/LOGIN accepted) that keeps every message it receives, for the
tests and the demo (where ALERT_URLS' alerts and messages go)."""
from __future__ import annotations

import socketserver
import threading


class SmtpServer:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                self.reply("220 stand-in SMTP server ready")
                while True:
                    line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
                    if not line:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-localhost")
                        self.reply("250 AUTH PLAIN LOGIN")
                    elif verb == "AUTH":
                        if line.upper().startswith("AUTH LOGIN"):
                            for prompt in ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"):
                                self.reply(f"334 {prompt}")
                                self.rfile.readline()
                        self.reply("235 authenticated")
                    elif verb == "DATA":
                        self.reply("354 go on")
                        body = []
                        while True:
                            data = self.rfile.readline().decode(errors="replace")
                            if data.rstrip("\r\n") == ".":
                                break
                            body.append(data)
                        with outer.arrived:
                            outer.messages.append("".join(body))
                            outer.arrived.notify_all()
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> list[str]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        return list(self.messages)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subjects(self, since: int = 0) -> list[str]:
        """The subjects of the messages from ``since`` on, unfolded and decoded."""
        import email
        from email.header import decode_header, make_header

        return [" ".join(str(make_header(decode_header(email.message_from_string(m)["Subject"] or ""))).split())
                for m in self.messages[since:]]

    @staticmethod
    def body(message: str) -> str:
        """A message's text, decoded (Apprise sends it quoted-printable)."""
        import email

        payload = email.message_from_string(message).get_payload(decode=True)
        return payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)


def mail_url(port: int, password: str = "x") -> str:
    """An ALERT_URLS entry that mails the server on ``port`` (logging in with ``password``)."""
    return (f"mailto://alerts:{password}@localhost:{port}?smtp=127.0.0.1&from=ecosystem@localhost"
            "&to=trader@localhost&mode=insecure")
