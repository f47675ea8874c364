using System.Net;

namespace LockFree.Auth.OAuth;

/// <summary>
/// One request's record of the challenges the <see cref="ClientOAuthProvider"/> already answered: at most one retry
/// after a <c>401</c> and <see cref="ClientOAuthOptions.MaxStepUpAttempts"/> after a <c>403</c>. Counted by the
/// provider (<see cref="TryCount"/>); the handler only reports the challenges.
/// </summary>
/// <remarks>Concurrency: not shared; one instance belongs to one request, whose replays run one after another.</remarks>
internal sealed class ChallengeAttempts
{
    private bool _unauthorizedRetried;
    private int _stepUps;

    /// <summary>Counts a challenge with <paramref name="status"/>; false when the limit is reached or the status is no challenge (the response is returned as is).</summary>
    internal bool TryCount(HttpStatusCode status, int maxStepUpAttempts)
    {
        if (status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden))
        {
            return false;
        }

        if (status == HttpStatusCode.Forbidden)
        {
            if (_stepUps >= maxStepUpAttempts)
            {
                return false;
            }

            _stepUps++;
            return true;
        }

        if (_unauthorizedRetried)
        {
            return false;
        }

        _unauthorizedRetried = true;
        return true;
    }
}
