/// The order in which this machine's workers start a sweep's non-baseline trials. In spec order
/// a sweep whose last group distils from a teacher ends with one worker training students while
/// the others idle, and two trials of one teacher started together leave one worker waiting on
/// the cache's lock while the other trains it. So: the first trial of each distinct teacher
/// starts first (it trains the teacher); then the trials that need no teacher, longest first;
/// then the other trials of each teacher (by then trained), longest first. Ties keep spec order.
enum TrialOrder {
    /// A rough cost in units of "evaluate a model": training a student under a teacher is the
    /// most, stages with epochs of training (QAT, fine-tuning) come next.
    static func cost(_ plan: TrialPlan) -> Int {
        plan.stages.reduce(0) { total, stage in
            let body = stage.config.object ?? [:]
            if stage.kind == "distill" { return total + 8 }
            let trains = ["qat_epochs", "finetune_epochs", "epochs"].contains { key in
                if case .number(let n)? = body[key] { return n > 0 }
                return false
            } || body["workflow"] == .string("qat")
            return total + (trains ? 2 : 1)
        }
    }

    /// The teacher a trial distils from (its canonical JSON), if any.
    static func teacher(_ plan: TrialPlan) -> String? {
        plan.stages.first { $0.kind == "distill" }.map { $0.config.object?["teacher"]?.canonical ?? "" }
    }

    /// `items` (trials) in start order (see the type); an item without a plan counts as needing
    /// no teacher at cost 0.
    static func ordered<Item>(_ items: [Item], plan: (Item) -> TrialPlan?) -> [Item] {
        var firstOfTeacher: [Item] = [], plain: [Item] = [], later: [Item] = []
        var seen = Set<String>()
        for item in items {
            guard let teacher = plan(item).flatMap(teacher) else {
                plain.append(item)
                continue
            }
            if seen.insert(teacher).inserted { firstOfTeacher.append(item) } else { later.append(item) }
        }
        func longestFirst(_ list: [Item]) -> [Item] {
            let costs = list.map { plan($0).map(cost) ?? 0 }
            return list.indices.sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }.map { list[$0] }
        }
        return firstOfTeacher + longestFirst(plain) + longestFirst(later)
    }

    /// The index in `queue` of the next trial that may start beside `running`: a baseline, or a
    /// trial whose seed's baseline is neither queued nor running (it starts from that baseline).
    /// So a seed's trials start as soon as its own baseline has ended, while other seeds'
    /// baselines still train, and no worker idles behind the last baseline. Nil when nothing can
    /// start yet; never nil with `running` empty and `queue` not (a trial waits only for a
    /// queued or running baseline, and baselines can always start).
    static func nextStartable<Item>(_ queue: [Item], running: [Item], seed: (Item) -> Int64, isBaseline: (Item) -> Bool) -> Int? {
        let training = Set((queue + running).filter(isBaseline).map(seed))
        return queue.firstIndex { isBaseline($0) || !training.contains(seed($0)) }
    }
}
