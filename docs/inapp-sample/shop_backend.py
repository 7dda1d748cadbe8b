"""A sample shop backend that issues in-app voice session tokens behind the shop's own login.

Run (beside a bot started with the same secret and this origin allowed):
    VOICEBOT_INAPP_SECRET=change-me-to-32-random-chars \\
    VOICEBOT_INAPP_ORIGINS=http://127.0.0.1:8000 voicebot serve            # the bot on :8080
    VOICEBOT_INAPP_SECRET=change-me-to-32-random-chars BOT=http://127.0.0.1:8080 \\
    uvicorn docs.inapp-sample.shop_backend:app --port 8000                  # (or copy this file)
Open http://127.0.0.1:8000/login?user=alex, then http://127.0.0.1:8000/.

The only voicebot call is ``issue_token``; a shop in another language signs the same token
(``v1.<base64url JSON>.<base64url HMAC-SHA256 of "v1.<payload>">``, see voicebot/channels/webrtc/tokens.py).
"""

from __future__ import annotations

import os

from fastapi import Cookie, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from voicebot.channels.webrtc.tokens import issue_token

SECRET = os.environ["VOICEBOT_INAPP_SECRET"]  # shared with the bot; never sent to the browser
BOT = os.environ.get("BOT", "http://127.0.0.1:8080")
CUSTOMERS = {"alex": {"id": "cust-1001", "name": "Alex", "language": "en"},
             "lena": {"id": "cust-1002", "name": "Lena", "language": "de"}}  # the shop's own user table

app = FastAPI()


def signed_in(session: str | None) -> dict:
    """Stand-in for the shop's real session check (its own login, cookies, CSRF protection...)."""
    if session not in CUSTOMERS:
        raise HTTPException(401, "sign in first")
    return CUSTOMERS[session]


@app.get("/login")
async def login(user: str) -> RedirectResponse:
    response = RedirectResponse("/")
    response.set_cookie("session", user, httponly=True, samesite="strict")
    return response


@app.post("/voicebot/token")
async def voicebot_token(session: str | None = Cookie(default=None)) -> dict:
    """What the widget's data-token-url calls: a 5-minute token carrying who is signed in."""
    c = signed_in(session)
    return {"token": issue_token(SECRET, customer_id=c["id"], customer_name=c["name"], language=c["language"], ttl_s=300)}


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return f"""<!doctype html><meta charset="utf-8"><title>My shop</title><h1>My shop</h1>
<div id="voicebot"></div>
<script src="{BOT}/widget.js" data-server="{BOT}" data-token-url="/voicebot/token" data-target="#voicebot"></script>"""
