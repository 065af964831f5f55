"""The pages: each module translates between forms and the services' APIs."""
