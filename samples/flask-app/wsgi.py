from flask import Flask, jsonify

application = Flask(__name__)


@application.route("/")
def index():
    return "Hello from Flask!"


@application.route("/health")
def health():
    return jsonify(status="ok")
