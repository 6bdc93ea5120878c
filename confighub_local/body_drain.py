"""Read what is left of a request body before answering a request whose body the app ignored.

A route that refuses a request before looking at its body (a 401 from the auth middleware, a
404 such as the Sets refusal, any error raised before the body is parsed) leaves the body
unread. hypercorn's HTTP/1.1 handler recycles a keep-alive connection only when the request
was read to its end by the time the response is finished; otherwise it drops the connection
without saying so, and the client's next request on it fails ("Server disconnected without
sending a response"). Draining the body before the response starts keeps the connection
usable.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyDrainMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        done = False

        def seen(message: Message) -> Message:
            nonlocal done
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                done = True
            return message

        async def tracked_receive() -> Message:
            return seen(await receive())

        async def draining_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                while not done:
                    seen(await receive())
            await send(message)

        await self.app(scope, tracked_receive, draining_send)
