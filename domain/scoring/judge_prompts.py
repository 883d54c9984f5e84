"""The fixed texts of the judge built-ins."""

DEFAULT_SYSTEM = (
    "You are an expert evaluator. Assess the output against the evaluation criteria. Respond with a JSON object "
    'with the keys "score" (a number from 0 to 1), "passed" (true if score >= 0.7) and "explanation" (a short '
    "justification). Respond with JSON only."
)
PRESET_SYSTEM = (
    "You are an expert evaluator. Assess the output against the evaluation criteria. Respond with a JSON object "
    'with the keys "score" (a number from 0 to 1), "passed" (true if score >= 0.7), "label" (one of pass, partial, '
    'fail), "explanation" (a short justification) and "metadata" (an object). Respond with JSON only.'
)
AGENT_JUDGE_SYSTEM = (
    "You are an expert evaluator of AI agents. Inspect the evidence of what the agent did (its trace, tool calls "
    'and earlier scores) and judge it against the criteria. Respond with a JSON object with the keys "score" '
    '(0 to 1), "passed" (true if score >= 0.7), "label" and "explanation". Respond with JSON only.'
)
CORRECTNESS_CRITERIA = (
    "Judge whether the output answers the input correctly. A fully correct answer scores 1.0, a partially correct "
    "answer 0.5, and a wrong or unsupported answer 0.0. When a reference answer is given, compare against it."
)
FAITHFULNESS_CRITERIA = (
    "Judge whether every claim in the output is supported by the context. Penalize claims the context does not "
    "support and claims that contradict it. Fully faithful scores 1.0; any contradiction scores 0.0."
)
GOAL_SUCCESS_CRITERIA = (
    "Judge whether the agent achieved the user's goal in this session, using the evidence of what it did. "
    "Complete success scores 1.0, partial success 0.5, failure 0.0."
)
AGENT_JUDGE_CRITERIA = (
    "Inspect the evidence: did the agent use appropriate tools, avoid unnecessary or failing steps, and produce a "
    "final answer that follows from what it found? Score 1.0 for a sound, efficient trajectory, lower otherwise."
)
