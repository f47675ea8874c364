using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.Testing;

/// <summary>An <see cref="ILoggerFactory"/> that records every formatted message with its level (thread-safe).</summary>
public sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    /// <summary>Every message logged so far, in order.</summary>
    public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

    private readonly ConcurrentQueue<LogRecord> _records = new();

    /// <summary>Every entry with its category and event ID (the catalogue tests check IDs and categories).</summary>
    public IReadOnlyList<LogRecord> Records => [.. _records];

    public ILogger CreateLogger(string categoryName) => new Logger(_entries, _records, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    /// <summary>One written entry.</summary>
    public sealed record LogRecord(string Category, EventId EventId, LogLevel Level, string Message);

    private sealed class Logger(ConcurrentQueue<(LogLevel Level, string Message)> entries, ConcurrentQueue<LogRecord> records, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            entries.Enqueue((logLevel, message));
            records.Enqueue(new LogRecord(category, eventId, logLevel, message));
        }
    }
}
