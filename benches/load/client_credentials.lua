-- wrk script: POST a client_credentials grant for inventory-service (quickstart policy).
-- wrk reports "Non-2xx or 3xx responses: N" when any answer was not a success; the harness
-- prints that count, so a broken run cannot pass for a fast one.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=order_add%20item_view"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- inventory-service:inventory-secret
wrk.headers["Authorization"] = "Basic aW52ZW50b3J5LXNlcnZpY2U6aW52ZW50b3J5LXNlY3JldA=="
