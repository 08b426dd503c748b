"""Made-up cohorts: the demo journeys, generated cohorts and synthetic logs."""
