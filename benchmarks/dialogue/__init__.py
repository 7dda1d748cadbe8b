"""Task success of the dialogue engine on scripted caller turns (evaluate_tasks)."""
