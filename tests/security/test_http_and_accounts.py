"""HTTP hardening and accounts: headers, cookies, proxies, hosts, rate limits, passwords and tokens."""
from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from app import create_app, services
from app.extensions import db
from app.models import User
from tests.conftest import IsolatedClient, audit_count
from tests.web.browser import PASSWORD, Browser


def test_every_response_carries_the_security_headers(client, world):
    for url in ("/", "/login", "/api/v1/processes", "/no/such/page", "/static/style.css"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP here


def test_https_installations_get_hsts_and_secure_cookies(app_config):
    app = create_app({**app_config, "HTTPS": "1"})
    app.test_client_class = IsolatedClient
    with app.app_context():
        client = app.test_client()
        response = client.get("/login")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        db.engine.dispose()


def test_session_cookies_are_httponly_and_samesite(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_proxy_fix_and_trusted_hosts_are_configurable(app_config):
    app = create_app({**app_config, "PROXY_FIX": "1", "TRUSTED_HOSTS": "ratschlag.test, beteiligung.example"})
    with app.app_context():
        client = app.test_client()
        response = client.get("/api/v1/processes", headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and "Strict-Transport-Security" in response.headers
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/", headers={"Host": "beteiligung.example"}).status_code == 200
        db.engine.dispose()


@pytest.fixture
def limited(app_config):
    """An application with small limits. The limiter is one per process, so this test builds no other app."""
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "THROTTLE_FREE_PER_PAIR": 3,
                      "THROTTLE_FREE_PER_ADDRESS": 6, "THROTTLE_FIRST_WAIT_SECONDS": 60,
                      "API_LIMIT_PER_TOKEN": "5 per minute", "API_LIMIT_PER_ADDRESS": "8 per minute",
                      "PDF_LIMIT_PER_ADDRESS": "2 per minute"})
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_pdf_documents_are_limited_per_address(limited):
    """A PDF costs a second or two of CPU: a third within the minute from one address is refused."""
    visitor = Browser(limited)
    for path in ("/sessions/1/minutes.pdf", "/processes/p/recommendations/1/dossier.pdf"):
        assert visitor.client.get(path).status_code == 404  # counted all the same
    response = visitor.client.get("/sessions/1/minutes.pdf")
    assert response.status_code == 429 and "Too many attempts" in response.text


def test_sign_in_attempts_are_limited_per_account_and_per_address(limited):
    user, _ = services.create_user("target@example.org", "Target", password=PASSWORD)
    attacker = Browser(limited)
    attacker.get("/login")
    for _ in range(3):
        assert attacker.post("/login", {"email": user.email, "password": "wrong-password-1"}).status_code == 200
    response = attacker.post("/login", {"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 429 and "Too many attempts" in response.text
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    # other accounts from the same address have their own budgets, until the address's runs out
    statuses = [attacker.post("/login", {"email": f"other{i}@example.org", "password": "x" * 12}).status_code
                for i in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429, statuses
    # the account's owner, at another address, signs in as usual
    owner = Browser(limited)
    owner.client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    owner.login(user)


def test_token_use_is_limited_per_token(limited):
    user, _ = services.create_user("script@example.org", "Script", password=PASSWORD)
    token = services.create_token(user, "script")
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [client.get("/api/v1/processes", headers=headers).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    answer = client.get("/api/v1/processes", headers=headers)
    assert answer.json["error"]["code"] == "too_many_requests"
    assert client.get("/api/v1/processes").status_code == 200  # the token's budget is not the address's
    assert 429 in [client.get("/api/v1/processes").status_code for _ in range(8)]  # anonymous: per address


@pytest.mark.parametrize("password,message", [
    ("short", "at least 10 characters"),
    ("1234567890", "too easy to guess"),
    ("aaaaaaaaaaaa", "too easy to guess"),
    ("amira.yilmaz-2026", "too easy to guess"),
])
def test_the_password_policy_explains_itself(runner, password, message):
    result = runner.invoke(args=["users", "create", "amira.yilmaz@example.org", "--name", "Amira Yilmaz",
                                 "--password-stdin"], input=password + "\n")
    assert result.exit_code == 1 and message in result.stderr
    assert services.find_user("amira.yilmaz@example.org") is None


def test_an_old_password_hash_is_renewed_at_sign_in(app, make_user):
    user = make_user("Old Hash")
    user_id = user.id
    db.session.get(User, user_id).password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    db.session.commit()
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:2000"
    Browser(app).login(db.session.get(User, user_id))
    db.session.rollback()
    assert db.session.get(User, user_id).password_hash.startswith("pbkdf2:sha256:2000$")
    events = audit_count()
    Browser(app).login(db.session.get(User, user_id))  # already current: nothing to do
    assert audit_count() == events


def test_tokens_can_be_revoked_and_can_expire(app, runner, make_user, client):
    user = make_user("Token Owner")
    keep, drop = services.create_token(user, "keep"), services.create_token(user, "drop")
    result = runner.invoke(args=["users", "revoke-token", user.email, "--label", "drop"])
    assert result.exit_code == 0 and "revoked 1 token" in result.stdout
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {drop}"}).status_code == 401
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {keep}"}).status_code == 200
    assert runner.invoke(args=["users", "revoke-token", user.email]).stderr == "Error: say which tokens: --label TEXT or --all\n"
    assert runner.invoke(args=["users", "revoke-token", user.email, "--label", "drop"]).exit_code == 1
    assert "revoked 1 token" in runner.invoke(args=["users", "revoke-token", user.email, "--all"]).stdout
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {keep}"}).status_code == 401

    app.config["TOKEN_LIFETIME_DAYS"] = 30
    fresh = services.create_token(user, "month")
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    db.session.execute(db.text("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00' WHERE label = 'month'"))
    db.session.commit()
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401


def test_several_servers_share_rate_limits_through_redis(app_config, world, token):
    """Two application instances (two servers) count one token's API requests in one Redis: the
    limit holds across them. CI runs Redis on 127.0.0.1:6379, so there it is an error, never a skip."""
    import hashlib
    import uuid

    import redis

    from tests.conftest import IN_CI
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        if IN_CI:
            pytest.fail("CI=true but there is no Redis on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    raw = token(world.member)
    prefix = uuid.uuid4().hex
    config = {**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URL": url, "RATELIMIT_KEY_PREFIX": prefix,
              "API_LIMIT_PER_TOKEN": "3 per minute", "API_LIMIT_PER_ADDRESS": "1000 per minute"}
    first, second = create_app(config), create_app(config)
    db.session.rollback()
    statuses = []
    for server in (first, second, first, second, second):
        with server.app_context():
            response = server.test_client().get("/api/v1/processes", headers={"Authorization": f"Bearer {raw}"})
            statuses.append((response.status_code, response.headers.get("X-RateLimit-Remaining")))
            db.engine.dispose()
    # Three allowed in all, counted down across both servers; then both refuse.
    assert statuses == [(200, "2"), (200, "1"), (200, "0"), (429, "0"), (429, "0")], statuses
    counted = hashlib.sha256(raw.encode()).hexdigest()
    assert redis.Redis.from_url(url).keys(f"*token:{counted}*")  # the count lives in Redis, not in a worker


def test_one_click_unsubscribes_from_one_address_are_not_limited_but_forged_links_are(limited):
    """RFC 8058 one-click POSTs come from a mail provider's few shared addresses: 40 valid ones within
    the minute all go through (204). Links that are not ours count: after 30 of them, 429."""
    from app.services import notifications

    kinds = ["your_turn", "authored", "statement", "reply", "deadline"]
    users = [services.create_user(f"reader{n}@example.org", f"Reader {n}", password=PASSWORD)[0] for n in range(8)]
    provider = limited.test_client()
    answers = [provider.post(f"/unsubscribe/{notifications.unsubscribe_token(user.id, kind)}",
                             data={"List-Unsubscribe": "One-Click"}).status_code for user in users for kind in kinds]
    assert answers == [204] * 40
    db.session.expire_all()
    assert all(services.notification_modes(user.id)[kind] == "off" for user in users for kind in kinds)
    forger = limited.test_client()
    forged = [forger.post(f"/unsubscribe/{'x' * 20}{n}", data={"List-Unsubscribe": "One-Click"}).status_code
              for n in range(31)]
    assert forged == [404] * 30 + [429]
