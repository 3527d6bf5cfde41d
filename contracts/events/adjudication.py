"""adjudication.events: published by adjudication; keyed by member id."""

from contracts import topics
from contracts.contract import EventContract
from services.adjudication.domain.decision import Decision
from services.eligibility.domain.accumulators import AccumulatorUpdate

CLAIM_ADJUDICATED = "claim.adjudicated"
ACCUMULATORS_APPLIED = "accumulators.applied"

CONTRACTS = (
    EventContract(CLAIM_ADJUDICATED, topics.ADJUDICATION, Decision,
                  "Adjudication priced a received claim; the claims service applies the decision."),
    EventContract(ACCUMULATORS_APPLIED, topics.ADJUDICATION, AccumulatorUpdate,
                  "A decision moved a member's deductible / out-of-pocket accumulators (signed deltas)."),
)
