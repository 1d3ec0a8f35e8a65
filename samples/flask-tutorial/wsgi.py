# mod_wsgi loads a script's `application`: the app factory makes it.
from flaskr import create_app

application = create_app()
