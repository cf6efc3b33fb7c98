"""Create CKAN's sysadmin and an API token in one process; prints the token.

Run with CKAN's own Python and CKAN_INI set, after `ckan db init` (tests/ckanserver.py does it).
One process instead of `ckan user add` + `ckan sysadmin add` + `ckan user token add` because each
CLI call loads CKAN anew: ~2 s here against ~17 s.
Usage: python ckan_bootstrap.py USER PASSWORD
"""
import os
import sys

from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app


def main() -> None:
    name, password = sys.argv[1], sys.argv[2]
    app = make_app(CKANConfigLoader(os.environ["CKAN_INI"]).get_config())
    import ckan.logic as logic  # only importable once the app is configured
    import ckan.model as model

    with app._wsgi_app.test_request_context():
        if not model.User.get(name):
            logic.get_action("user_create")({"ignore_auth": True, "user": ""},
                                            {"name": name, "email": f"{name}@example.invalid", "password": password})
        user = model.User.get(name)
        user.sysadmin = True
        model.repo.commit()
        token = logic.get_action("api_token_create")({"ignore_auth": True, "user": name},
                                                     {"user": name, "name": "portal-tests"})
    print(token["token"], flush=True)


if __name__ == "__main__":
    main()
