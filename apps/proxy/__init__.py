"""The front proxy: nginx routes <app>.<apps domain> to the app's container.

The API is in apps.proxy.nginx: set_route, remove_route, routes,
ensure_running, reload, stop, status, app_url; errors are ProxyError
(apps.proxy.errors).
"""
