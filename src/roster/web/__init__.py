"""Public pages: the preference / unsubscribe page behind every contact's link."""
