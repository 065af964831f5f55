"""Pure rules every service shares: the area profile (age bands, rule table,
working time), deadlines in working time, the NHS number's pseudonym."""
