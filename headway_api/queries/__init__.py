"""The SQL behind each endpoint: statement builders and the functions that run them.

Every function takes the caller's `org_id` and puts it in the WHERE clause itself; routes never
pass an organisation that did not come from the verified token.
"""
