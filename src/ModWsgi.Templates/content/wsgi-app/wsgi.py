# The WSGI entry point: mod_wsgi imports this file and calls `application` for every request.
# Static files are better served by Apache itself: see WsgiUrlAlias in the .proj file.


def application(environ, start_response):
    status = '200 OK'
    output = 'Hello from WsgiApp!'.encode('utf-8')

    response_headers = [('Content-Type', 'text/plain; charset=utf-8'),
                        ('Content-Length', str(len(output)))]
    start_response(status, response_headers)

    return [output]
