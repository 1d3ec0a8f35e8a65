import os

from flask import Flask


def create_app(test_config=None):
    """The application factory of the Flask tutorial (flask --app flaskr run / init-db)."""
    # The instance folder holds the database: /data in the image (.docker/user_vars/FLASKR_INSTANCE_PATH),
    # ./instance when run from a checkout.
    app = Flask(__name__, instance_path=os.environ.get("FLASKR_INSTANCE_PATH") or None, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("FLASKR_SECRET_KEY", "dev"),
        DATABASE=os.path.join(app.instance_path, "flaskr.sqlite"),
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import auth, blog, db

    db.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(blog.bp)
    app.add_url_rule("/", endpoint="index")
    return app
