"""The demo's mail server (aiosmtpd on loopback): prints every email the comments plugin sends."""

import asyncio
import email
import email.policy
import sys

from aiosmtpd.controller import Controller


class PrintMail:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        print(
            f"[mail] to {', '.join(envelope.rcpt_tos)}: {message['Subject']}\n"
            + "".join(f"[mail]   {line}\n" for line in text.strip().splitlines()),
            end="",
            flush=True,
        )
        return "250 Message accepted"


async def serve(port):
    controller = Controller(PrintMail(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"[mail] listening on 127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    try:
        asyncio.run(serve(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
