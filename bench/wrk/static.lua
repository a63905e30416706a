-- One fixed request, from the environment: client_credentials, userinfo, introspection.
--   WRK_METHOD  GET or POST;  WRK_BODY  a form body (POST);  WRK_AUTH  the Authorization value
wrk.method = os.getenv("WRK_METHOD") or "GET"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Authorization"] = os.getenv("WRK_AUTH")
if wrk.body then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
